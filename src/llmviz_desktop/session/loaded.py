"""A loaded model: config, weights, tokenizer, the traced sequence for one input and its layout
(pure: numpy and files, no GL, no imgui). load_model / with_params make one; the input checks
say in one line why a typed input cannot be used."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.config import PRESETS, GPTConfig
from ..model.counts import trace_dtype
from ..model.generate import generate
from ..model.gpt import Trace, forward
from ..model.params import Params
from ..model.sampling import Sampling
from ..model.tokenizer import BPETokenizer, CharTokenizer, TokenizerError
from ..model.weights import resolve_model
from ..scene.layout import Scene, build_scene
from ..scene.scale import SCALE_SPEC, build_scale_scene

DEFAULT_INPUT = "CBABBC"
MODEL_CHOICES = tuple(PRESETS)  # nano-sort with values; the others render-only shells


@dataclass
class LoadedModel:
    name: str
    config: GPTConfig
    params: Params | None  # None: a render-only shell
    trace: Trace | None
    scene: Scene
    input_text: str = ""
    output_text: str = ""
    sampling: Sampling = field(default_factory=Sampling)
    display: Params | None = None  # what weight boxes show instead of params (gradients...)
    label: str = ""  # a line describing where these weights come from (replay, training)
    tokenizer: object | None = None  # CharTokenizer or BPETokenizer (None for shells)

    def token_text(self, token_id: int) -> str:
        """One token as text, for labels."""
        if self.config.vocab is not None:
            return self.config.vocab[int(token_id)]
        piece = getattr(self.tokenizer, "piece", None)
        return piece(token_id) if piece else str(int(token_id))


NEW_TOKENS = 4  # tokens generated after the text for models without a task (GPT-2); each
#                costs a full forward pass (no key/value cache)
DEFAULT_TEXT = "The quick brown fox jumps over the"


def tokenizer_for(spec: str, cfg: GPTConfig):
    """Letters for character vocabularies; a checkpoint folder's BPE tokenizer otherwise."""
    if cfg.vocab is not None:
        return CharTokenizer(cfg.vocab)
    if Path(spec).is_dir():
        return BPETokenizer.from_dir(spec)
    return None


def _run(cfg: GPTConfig, params: Params, tok, text: str, sampling: Sampling):
    """Tokenise, generate, and trace the sequence the model processed: (trace, output text)."""
    ids = tok.encode(text)
    if ids.max() >= cfg.vocab_size:
        where = getattr(tok, "source", "the tokenizer")
        raise TokenizerError(
            f"{where}: the tokenizer gives token id {int(ids.max())} but the model's "
            f"vocabulary has {cfg.vocab_size} entries (they do not belong together)"
        )
    n_new = (cfg.task or {}).get("length", NEW_TOKENS)
    room = cfg.block_size - n_new + 1
    if len(ids) > room:
        raise TokenizerError(f"the text is {len(ids)} tokens; {context_limit(cfg, room)}")
    gen = generate(cfg, params, ids, n_new, sampling.temperature, sampling.top_k, sampling.seed)
    full = np.concatenate([ids, gen.tokens[0][:-1]])  # the last token is never fed back
    trace = forward(cfg, params, full, dtype=trace_dtype(cfg))  # float64 for small models
    return trace, tok.decode(gen.tokens[0])


def with_params(
    base: LoadedModel, params: Params, display: Params | None = None, label: str = ""
) -> LoadedModel:
    """The same model and input with other weights (a checkpoint, an interpolated moment,
    live training): generate and trace again, keep the layout (it depends on shapes only)."""
    trace, output = _run(base.config, params, base.tokenizer, base.input_text, base.sampling)
    return LoadedModel(
        base.name,
        base.config,
        params,
        trace,
        base.scene,
        base.input_text,
        output,
        base.sampling,
        display,
        label,
        base.tokenizer,
    )


def load_model(
    spec: str, input_text: str | None = None, sampling: Sampling | None = None
) -> LoadedModel:
    """Resolve a preset or checkpoint, run the forward pass on the input (with the generated
    answer appended, so the whole sequence is drawn) and lay out the scene."""
    sampling = sampling or Sampling()
    if spec == SCALE_SPEC:  # every model side by side, shells without values (scene/scale.py)
        scene = build_scale_scene()
        return LoadedModel(spec, scene.config, None, None, scene, sampling=sampling)
    cfg, params = resolve_model(spec)
    trace, output, text = None, "", ""
    tok = tokenizer_for(spec, cfg) if params is not None else None
    if params is not None and tok is not None:
        default = DEFAULT_INPUT if cfg.vocab else DEFAULT_TEXT
        text = input_text if input_text is not None else default
        trace, output = _run(cfg, params, tok, text, sampling)
    scene = build_scene(cfg, trace, params)
    return LoadedModel(spec, cfg, params, trace, scene, text, output, sampling, None, "", tok)


def context_limit(config: GPTConfig, room: int) -> str:
    """'at most R tokens fit: <model>'s context is N ...': the limit an input meets, named by
    the model's context size (the generated tokens fed back take the rest)."""
    fed_back = config.block_size - room
    rest = f", {fed_back} of them for the generated tokens" if fed_back > 0 else ""
    return f"at most {room} tokens fit: {config.name}'s context is {config.block_size} tokens{rest}"


def input_room(config: GPTConfig) -> int:
    """How many input tokens fit the context with the generated ones after them."""
    n_new = (config.task or {}).get("length", NEW_TOKENS)
    return max(config.block_size - n_new + 1, 0)


MAX_BAD_SHOWN = 5  # a pasted page of other characters names only the first few


def input_problem(text: str, config: GPTConfig) -> str:
    """Why a typed input cannot be used ('' when it can): letters outside the vocabulary, more
    than the model's context holds, or not the task's length. One short line whatever the
    text (it never repeats a long input)."""
    if config.vocab is None:  # BPE: any text; the token count is checked when it runs
        return "" if text.strip() else "type some text"
    vocab = config.vocab
    bad = sorted({ch for ch in text if ch not in vocab})
    if bad:
        named = ", ".join(repr(c) for c in bad[:MAX_BAD_SHOWN])
        more = f" and {len(bad) - MAX_BAD_SHOWN} more" if len(bad) > MAX_BAD_SHOWN else ""
        return f"{named}{more} not allowed: use {', '.join(vocab)}"
    room, length = input_room(config), (config.task or {}).get("length")
    too_long = f"; {context_limit(config, room)}" if len(text) > room else ""
    if length and len(text) != length:
        return f"type {length} letters (got {len(text)}){too_long}"
    if too_long:
        return f"{len(text)} letters{too_long}"
    if not text:
        return "type at least one letter"
    return ""


def random_input(config: GPTConfig, rng: np.random.Generator) -> str:
    vocab = config.vocab or ()
    length = (config.task or {}).get("length", 6)
    return "".join(vocab[int(i)] for i in rng.integers(0, len(vocab), length))
