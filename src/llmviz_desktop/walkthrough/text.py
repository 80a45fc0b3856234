"""Step text: {placeholders} filled from the config and the trace, and [words](glob) links to
tensors, split into segments the panel draws (a link highlights its tensors when hovered)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..model.config import preset as preset_config
from ..model.counts import count_params

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.:\[\],\- ]*)\}")
VALUE = re.compile(r"value:([\w.*-]+)\[(\d+),\s*(\d+)\]$")
# params.MODEL.X: matrices = the weight matrices (token table, attention, MLP, and the
# unembedding when it is untied; not the position table, layer norms or biases), total =
# everything (a tied unembedding once), unembedding = lm_head's own count (0 when tied),
# position = the position table wpe
COUNTS = ("matrices", "total", "unembedding", "position")


@dataclass(frozen=True)
class Segment:
    text: str
    link: tuple[str, ...] | None = None  # globs of the tensors the words refer to


class UnknownPlaceholder(KeyError):
    pass


@cache
def _counts(name: str):
    return count_params(preset_config(name))


def placeholder(name: str, model, t: int) -> str:
    """The text for one {name}; raises UnknownPlaceholder."""
    cfg = model.config
    vocab = cfg.vocab
    values = {
        "cfg.n_layer": cfg.n_layer,
        "cfg.n_head": cfg.n_head,
        "cfg.n_embd": f"{cfg.n_embd:,}",
        "cfg.head_dim": f"{cfg.head_dim:,}",
        "cfg.mlp": f"{4 * cfg.n_embd:,}",
        "cfg.vocab_size": f"{cfg.vocab_size:,}",
        "cfg.block_size": f"{cfg.block_size:,}",
        "vocab": ", ".join(vocab) if vocab else f"{cfg.vocab_size:,} tokens",
        "input": model.input_text,
        "output": model.output_text,
        "input_len": len(model.input_text),
        "t": t,
        "sqrt_head_dim": f"{math.sqrt(cfg.head_dim):.4g}",
        "eps": f"{cfg.layer_norm_epsilon:g}",
    }
    if name in values:
        return str(values[name])
    trace = model.trace
    if name in ("token", "next_token", "prob"):
        if trace is None:
            return "?"
        ids = trace.tokens[0]
        nxt = int(np.argmax(trace["probs"][0, t]))
        if name == "token":
            return vocab[int(ids[t])] if vocab else str(int(ids[t]))
        if name == "next_token":
            return vocab[nxt] if vocab else str(nxt)
        return f"{float(trace['probs'][0, t, nxt]):.4f}"
    if name.startswith("params."):
        parts = name.split(".")
        if len(parts) == 3 and parts[2] in COUNTS:
            try:
                counts = _counts(parts[1])
            except ValueError:
                raise UnknownPlaceholder(name) from None
            if parts[2] in ("matrices", "total"):
                return f"{counts.matrices_total if parts[2] == 'matrices' else counts.total:,}"
            kind = {"unembedding": "unembedding", "position": "position_embedding"}[parts[2]]
            return f"{next(k.total for k in counts.kinds if k.kind == kind):,}"
    m = VALUE.match(name)
    if m:
        box = model.scene.by_name.get(m.group(1))
        if box is None:
            raise UnknownPlaceholder(name)
        if trace is None or box.source is None:
            return "?"
        i, j = int(m.group(2)), int(m.group(3))
        matrix = box.source.view(trace, model.params)  # the trace's own dtype, not float32
        if not (i < matrix.shape[0] and j < matrix.shape[1]):
            raise UnknownPlaceholder(name)
        return f"{float(matrix[i, j]):.4g}"
    raise UnknownPlaceholder(name)


def fill(text: str, model, t: int) -> str:
    """Replace every {placeholder}; an unknown one stays visible as {name?}."""

    def repl(m: re.Match) -> str:
        try:
            return placeholder(m.group(1).strip(), model, t)
        except UnknownPlaceholder:
            return "{" + m.group(1) + "?}"

    return PLACEHOLDER.sub(repl, text)


def unknown_placeholders(text: str, model, t: int) -> list[str]:
    out = []
    for m in PLACEHOLDER.finditer(text):
        try:
            placeholder(m.group(1).strip(), model, t)
        except UnknownPlaceholder:
            out.append(m.group(1))
    return out


def paragraphs(text: str, model, t: int) -> list[list[Segment]]:
    """Filled text split into paragraphs of segments (plain words and tensor links)."""
    out = []
    for para in re.split(r"\n\s*\n", fill(text, model, t)):
        para = " ".join(para.split())
        segs, pos = [], 0
        for m in LINK.finditer(para):
            if m.start() > pos:
                segs.append(Segment(para[pos : m.start()]))
            segs.append(Segment(m.group(1), tuple(g for g in m.group(2).split(",") if g)))
            pos = m.end()
        if pos < len(para):
            segs.append(Segment(para[pos:]))
        if segs:
            out.append(segs)
    return out


def links(text: str) -> list[tuple[str, ...]]:
    """Every link's globs (for the 3D -> text direction and for validation)."""
    return [tuple(g for g in m.group(2).split(",") if g) for m in LINK.finditer(text)]
