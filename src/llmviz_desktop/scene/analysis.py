"""Analysis views computed from a trace, its weights and the scene (pure numpy: no GL, no UI).

* attention_maps: every head's attention probabilities, [L, H, T, T] (query rows, key columns);
  attention_grids: the same turned as the 3D boxes draw them (key rows, query columns).
* logit_lens: each layer's residual stream read out through the final layer norm and the
  unembedding, as if the model stopped there: the top-k next tokens per layer at one position.
  After the last layer this is exactly the model's own prediction.
* param_groups: parameter counts per group (embedding, attention, MLP, ...), per layer and in
  total, regrouped from model/counts.py (which owns the arithmetic).
* group_label_positions: where those counts can be written next to the model in 3D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import activations as A
from ..model.config import GPTConfig
from ..model.counts import KIND_TITLES, MATRIX_KINDS, ParamCounts, count_params
from ..model.gpt import Trace, softmax
from ..model.params import Params, lm_head
from .labels import SECTION_OF_GROUP

Decoder = Callable[[int], str]

# ---- tokens as text ----------------------------------------------------------------------------


def token_decoder(model: Any, decoder: Decoder | None = None) -> Decoder:
    """id -> text for labels. In order: the decoder given, the model's own `token_text` or
    `decode_token`, its tokenizer's `piece`, the config's character vocabulary, else '#id'."""
    if decoder is not None:
        return decoder
    for name in ("token_text", "decode_token"):
        fn = getattr(model, name, None)
        if callable(fn):
            return fn
    piece = getattr(getattr(model, "tokenizer", None), "piece", None)
    if callable(piece):
        return piece
    cfg = getattr(model, "config", model)
    vocab = getattr(cfg, "vocab", None)
    if vocab is not None:
        return lambda i: vocab[int(i)]
    return lambda i: f"#{int(i)}"


def token_labels(model: Any, decoder: Decoder | None = None) -> list[str]:
    """Text of each position of the traced sequence (batch row 0); [] without a trace."""
    trace = getattr(model, "trace", None)
    if trace is None:
        return []
    dec = token_decoder(model, decoder)
    return [dec(int(t)) for t in trace.tokens[0]]


# ---- attention ---------------------------------------------------------------------------------


def attention_maps(trace: Trace) -> np.ndarray:
    """[L, H, T, T]: attention probabilities of every head (batch row 0); [l, h, t, s] is how
    much query position t attends to key position s (zero for s > t: causal)."""
    cfg = trace.config
    return np.stack(
        [
            np.stack([trace[A.ATTN_PROBS.name(i, h)][0] for h in range(cfg.n_head)])
            for i in range(cfg.n_layer)
        ]
    )


def attention_grids(trace: Trace) -> np.ndarray:
    """[L, H, T_k, T]: attention_maps turned to the 3D boxes' orientation, [l, h, s, t] = how
    much query t attends to key s: a column per query, a row per key, key 0 at the top, so a
    heatmap reads like the head's probs box (the masked future in its lower-left triangle)."""
    return np.ascontiguousarray(attention_maps(trace).swapaxes(-1, -2))


# ---- logit lens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LensRow:
    layer: int  # 0: the embeddings (input of block 1); i: the residual after block i
    source: str  # the trace tensor read: "emb" or "h.{i-1}.mlp.residual"
    title: str  # "embedding", "layer 1", ...
    ids: tuple[int, ...]  # top-k token ids, most probable first
    probs: tuple[float, ...]  # their probabilities
    distribution: np.ndarray  # [V] the whole next-token distribution at this layer


def lens_sources(cfg: GPTConfig) -> list[str]:
    """The residual stream after each stage: the embeddings, then every block's output."""
    return [A.EMB.name()] + [A.MLP_RESIDUAL.name(i) for i in range(cfg.n_layer)]


def lens_distributions(
    cfg: GPTConfig, params: Params, trace: Trace, position: int | None = None
) -> np.ndarray:
    """[L + 1, V]: next-token probabilities read from each residual at one position (batch
    row 0), computed as the forward pass computes its output (same dtype, same formulas)."""
    T = trace.tokens.shape[1]
    pos = T - 1 if position is None else int(position)
    if not 0 <= pos < T:
        raise IndexError(f"position {position} outside the traced sequence of {T} tokens")
    x = np.stack([trace[name][0, pos] for name in lens_sources(cfg)])  # [L+1, C]
    dtype = x.dtype
    w = np.asarray(params["ln_f.weight"]).astype(dtype, copy=False)
    mean = x.mean(axis=-1)  # [L+1]
    xc = x - mean[:, None]  # [L+1, C]
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1) + cfg.layer_norm_epsilon)  # [L+1]
    xf = xc * rstd[:, None] * w  # [L+1, C]
    if "ln_f.bias" in params:
        xf = xf + np.asarray(params["ln_f.bias"]).astype(dtype, copy=False)
    W = np.asarray(lm_head(cfg, params)).astype(dtype, copy=False)  # [V, C]
    return softmax(xf @ W.T)  # [L+1, V]


def logit_lens(
    cfg: GPTConfig, params: Params, trace: Trace, k: int = 3, position: int | None = None
) -> list[LensRow]:
    """One row per residual (embeddings, then after each block): the top-k next tokens and
    their probabilities at `position` (default: the last traced position)."""
    dists = lens_distributions(cfg, params, trace, position)
    k = max(1, min(int(k), cfg.vocab_size))
    rows = []
    for layer, (name, dist) in enumerate(zip(lens_sources(cfg), dists, strict=True)):
        top = np.argsort(-dist, kind="stable")[:k]
        title = "embedding" if layer == 0 else f"layer {layer}"
        ids = tuple(int(i) for i in top)
        rows.append(LensRow(layer, name, title, ids, tuple(float(dist[i]) for i in ids), dist))
    return rows


# ---- parameter counts --------------------------------------------------------------------------

# group key, title, the count_params kinds it sums (every kind in exactly one group)
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("embedding", "Token embedding (wte)", ("token_embedding",)),
    (
        "attention",
        "Attention (q, k, v, output)",
        ("attn_query", "attn_key", "attn_value", "attn_out"),
    ),
    ("mlp", "MLP (up, down)", ("mlp_up", "mlp_down")),
    ("unembedding", "Unembedding (lm_head)", ("unembedding",)),
    ("position_embedding", "Position embedding (wpe)", ("position_embedding",)),
    ("layer_norm", "Layer norms", ("layer_norm",)),
    ("bias", "Biases", ("bias",)),
)
assert sorted(k for _, _, kinds in GROUPS for k in kinds) == sorted(KIND_TITLES)


# the two totals' titles state what they count: "weight matrices" leaves out the position table
# (drawn as a weight box too), and an untied unembedding (gpt3, nano-sort) is a matrix of its own
MATRICES_TITLE = "Total, weight matrices (not wpe, layer norms, biases)"
TOTAL_TITLE = "Total, everything (a tied lm_head once)"


@dataclass(frozen=True)
class GroupCount:
    key: str  # a GROUPS key, or "matrices_total" / "total"
    title: str
    per_layer: int  # in each block (0 for tensors outside the blocks)
    total: int  # over the whole model
    is_matrix: bool  # counted in the matrices-only total
    kinds: tuple[str, ...]  # the count_params kinds summed
    is_total: bool = False


def param_groups(cfg: GPTConfig, counts: ParamCounts | None = None) -> list[GroupCount]:
    """The GROUPS rows, then two totals: weight matrices only ("matrices_total") and
    everything ("total"). A tied unembedding shares wte's storage: its row counts 0."""
    pc = counts if counts is not None else count_params(cfg)
    by_kind = {k.kind: k for k in pc.kinds}
    rows = [
        GroupCount(
            key,
            title,
            sum(by_kind[k].per_layer for k in kinds),
            sum(by_kind[k].total for k in kinds),
            all(k in MATRIX_KINDS for k in kinds),
            kinds,
        )
        for key, title, kinds in GROUPS
    ]
    all_kinds = tuple(KIND_TITLES)
    rows.append(
        GroupCount(
            "matrices_total",
            MATRICES_TITLE,
            pc.block_matrices,
            pc.matrices_total,
            True,
            MATRIX_KINDS,
            True,
        )
    )
    rows.append(GroupCount("total", TOTAL_TITLE, pc.block_total, pc.total, False, all_kinds, True))
    return rows


# ---- labels for the 3D overlay -----------------------------------------------------------------

# scene box group -> the section it belongs to (the same sections as the bracket labels)
_SECTION_OF_GROUP = SECTION_OF_GROUP


@dataclass(frozen=True)
class GroupLabel:
    """A count label in the world; unpacks as (text, position)."""

    text: str
    position: tuple[float, float, float]  # the top-right-front corner of the section's boxes
    section: str  # embedding, attention, mlp, output
    layer: int | None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.text, self.position))


def group_label_positions(
    scene: Any, counts: ParamCounts | None = None, per: str = "section"
) -> list[GroupLabel]:
    """Count labels anchored at the top-right-front corner of scene sections, weight matrices
    only. per="section": the embedding, each layer's attention ("Layer 3 · attention
    2,359,296") and MLP, the output. per="layer": the same, with each layer's two in one label
    ("Layer 3 · attention 2,359,296 · MLP 4,718,592") at its attention section."""
    if per not in ("section", "layer"):
        raise ValueError(f"per must be 'section' or 'layer', got {per!r}")
    groups = {g.key: g for g in param_groups(scene.config, counts)}
    corners: dict[tuple[int | None, str], list[float]] = {}  # top-right-front of each section
    for box in scene.boxes:
        section = _SECTION_OF_GROUP.get(box.group)
        if section is None:
            continue
        hi = box.max_corner
        c = corners.get((box.layer, section))
        if c is None:
            corners[(box.layer, section)] = list(hi)
        else:
            c[0], c[1], c[2] = max(c[0], hi[0]), max(c[1], hi[1]), max(c[2], hi[2])
    attn, mlp = groups["attention"].per_layer, groups["mlp"].per_layer
    out = []
    for (layer, section), (x, y, z) in corners.items():
        if section == "embedding":
            text = f"Embedding · wte {groups['embedding'].total:,}"
            text += f" · wpe {groups['position_embedding'].total:,}"
        elif section == "output":
            if scene.config.tie_word_embeddings:
                text = "Output · unembedding = wte (tied)"
            else:
                text = f"Output · lm_head {groups['unembedding'].total:,}"
        elif per == "layer":
            if section == "mlp":
                continue
            text = f"Layer {(layer or 0) + 1} · attention {attn:,} · MLP {mlp:,}"
        else:
            name, n = ("attention", attn) if section == "attention" else ("MLP", mlp)
            text = f"Layer {(layer or 0) + 1} · {name} {n:,}"
        out.append(GroupLabel(text, (float(x), float(y), float(z)), section, layer))
    return out
