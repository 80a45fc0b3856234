"""Every tensor the app shows, declared once: its name, axes, the operation that makes it and
what it reads (llm.c lists each activation with its shape; llm-viz's blocks declare their deps).

    Q.name(layer=1, head=2)                      # "h.1.attn.head2.q"
    Q.op, Q.axes                                 # Op.LINEAR, ("B", "T", "D")
    acts = activations(cfg)                      # every concrete tensor, in computation order
    acts[...].reads                              # (Read("x", "h.1.ln_1.out"), Read("weight", ...))

gpt.py names its trace entries with these specs, the scene builds one box per drawn entry and
copies its op and reads, explanations dispatch on the op, and chapter files are checked
against the names. A name is written here and nowhere else.

Axes: B batch, T position, T_k key position, C = n_embd, D = head dim, 4C = MLP width,
vocab, position (a wpe row), 3C (c_attn's q, k, v columns). ``coords`` are the letters the
formulas use for the stored axes after the batch axis (t, t_k, c, d, j, v, p, k).

A head spec's name with ``head=None`` is the merged box of a render-only shell that stands
for all heads of a layer (``h.1.attn.heads.q``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Literal, NamedTuple

from .config import GPTConfig


class Op(StrEnum):
    """The operation that makes a tensor (what its explanation describes)."""

    TOKEN = "token"  # an input token id, read from the prompt
    ARGMAX = "argmax"  # the predicted next token: argmax of probs
    WEIGHT = "weight"  # a learned parameter
    EMBED = "embed"  # tok_emb[t] = wte[token[t]]
    POS_EMBED = "pos_embed"  # pos_emb[t] = wpe[t]
    RESIDUAL_ADD = "residual_add"  # a + b: the residual stream and what joins it
    LAYERNORM_MEAN = "layernorm_mean"
    LAYERNORM_RSTD = "layernorm_rstd"
    LAYERNORM_OUT = "layernorm_out"
    LINEAR = "linear"  # x @ W + b
    SCORES = "scores"  # q·k scaled, the future masked
    SOFTMAX_MAX = "softmax_max"
    SOFTMAX_EXPSUM = "softmax_expsum"
    SOFTMAX_PROBS = "softmax_probs"
    HEAD_OUT = "head_out"  # probs @ v
    GELU = "gelu"  # the MLP's nonlinearity (the config's activation)
    LOGITS = "logits"  # ln_f.out @ W_lm^T
    PROBS = "probs"  # softmax over the vocabulary


Scope = Literal["model", "layer", "head"]
Store = Literal["trace", "param", "tokens"]


class Read(NamedTuple):
    """One input of a tensor: its role in the operation and the tensor's (box) name."""

    role: str  # "x", "weight", "bias", "gain", "mean", "rstd", "q", "k", "scores", ...
    name: str


@dataclass(frozen=True)
class Site:
    """Where one concrete tensor sits: what its reads are resolved against."""

    cfg: GPTConfig
    layer: int | None
    head: int | None  # None outside a head, or all heads of a merged shell box
    merged: bool = False  # a shell whose heads are one box per kind


def _no_reads(site: Site) -> tuple[Read, ...]:
    return ()


_LETTERS = {"T": "t", "T_k": "t_k", "C": "c", "D": "d", "4C": "j", "vocab": "v"}


@dataclass(frozen=True)
class Spec:
    """One row of the table: a kind of tensor, one per layer / head where its scope says."""

    key: str  # the row's id: "head.q"
    pattern: str  # the name, with {layer} and {unit} (head{h}, or heads when merged)
    scope: Scope
    op: Op
    store: Store  # where the numbers live: the trace, the parameters or the token ids
    axes: tuple[str, ...]  # the stored array's axes (the trace's, for trace tensors)
    reads: Callable[[Site], tuple[Read, ...]] = field(default=_no_reads, repr=False)
    coords: tuple[str, ...] = ()  # formula letters; () = from axes (weights spell them out)
    param: Spec | None = None  # a weight box showing part of another parameter (c_attn)
    token_key: str = ""  # the tokens store's key: "input" or "predicted"
    bias: bool = False  # exists only when the config has biases
    drawn: bool = True  # False: a parameter the scene shows only in parts (c_attn)

    def name(self, layer: int | None = None, head: int | None = None) -> str:
        unit = "heads" if head is None else f"head{head}"
        return self.pattern.format(layer=layer, unit=unit)

    def key_of(self, layer: int | None = None, head: int | None = None) -> str:
        """The stored array's key: trace name, parameter name or token key."""
        if self.store == "tokens":
            return self.token_key
        return self.param.name(layer) if self.param is not None else self.name(layer, head)

    def letters(self) -> tuple[str, ...]:
        return self.coords or tuple(_LETTERS[a] for a in self.axes if a != "B")


@dataclass(frozen=True)
class Activation:
    """One concrete tensor of a model: a Spec at a layer (and head)."""

    name: str
    spec: Spec
    layer: int | None
    head: int | None
    reads: tuple[Read, ...]

    @property
    def op(self) -> Op:
        return self.spec.op

    @property
    def axes(self) -> tuple[str, ...]:
        return self.spec.axes


# ---- name builders shared by several rows ----------------------------------------------------


def block(layer: int) -> str:
    """The common prefix of block `layer`'s names (the backward pass's cache keys use it)."""
    return f"h.{layer}"


def stream_in(cfg: GPTConfig, layer: int) -> str:
    """The residual stream entering block `layer` (emb, or the previous block's output)."""
    return EMB.name() if layer == 0 else MLP_RESIDUAL.name(layer - 1)


def _bias(site: Site, spec: Spec) -> tuple[Read, ...]:
    return (Read("bias", spec.name(site.layer, site.head)),) if site.cfg.bias else ()


def _head(spec: Spec, role: str) -> Callable[[Site], Read]:
    return lambda s: Read(role, spec.name(s.layer, s.head))


class LayerNorm(NamedTuple):
    """The five rows of one layer norm (ln_1, ln_2 or ln_f)."""

    mean: Spec
    rstd: Spec
    weight: Spec
    bias: Spec
    out: Spec

    def prefix(self, layer: int | None = None) -> str:
        return self.out.name(layer).removesuffix(".out")


def _layer_norm(n: str, prefix: str, scope: Scope, x: Callable[[Site], str]) -> LayerNorm:
    w = Spec(f"{n}.weight", f"{prefix}.weight", scope, Op.WEIGHT, "param", ("C",), coords=("c",))
    b = Spec(
        f"{n}.bias", f"{prefix}.bias", scope, Op.WEIGHT, "param", ("C",), coords=("c",), bias=True
    )
    mean = Spec(
        f"{n}.mean",
        f"{prefix}.mean",
        scope,
        Op.LAYERNORM_MEAN,
        "trace",
        ("B", "T"),
        lambda s: (Read("x", x(s)),),
    )
    rstd = Spec(
        f"{n}.rstd",
        f"{prefix}.rstd",
        scope,
        Op.LAYERNORM_RSTD,
        "trace",
        ("B", "T"),
        lambda s: (Read("x", x(s)), Read("mean", mean.name(s.layer))),
    )
    out = Spec(
        f"{n}.out",
        f"{prefix}.out",
        scope,
        Op.LAYERNORM_OUT,
        "trace",
        ("B", "T", "C"),
        lambda s: (
            Read("x", x(s)),
            Read("mean", mean.name(s.layer)),
            Read("rstd", rstd.name(s.layer)),
            Read("gain", w.name(s.layer)),
            *_bias(s, b),
        ),
    )
    return LayerNorm(mean, rstd, w, b, out)


def _linear(x: Callable[[Site], tuple[Read, ...]], w: Spec, b: Spec) -> Callable:
    return lambda s: (*x(s), Read("weight", w.name(s.layer, s.head)), *_bias(s, b))


# ---- the table, in computation (and drawing) order -------------------------------------------

INPUT_TOKENS = Spec(
    "input_tokens", "input_tokens", "model", Op.TOKEN, "tokens", ("B", "T"), token_key="input"
)
WTE = Spec("wte", "wte.weight", "model", Op.WEIGHT, "param", ("vocab", "C"), coords=("v", "c"))
TOK_EMB = Spec(
    "tok_emb",
    "tok_emb",
    "model",
    Op.EMBED,
    "trace",
    ("B", "T", "C"),
    lambda s: (Read("token", INPUT_TOKENS.name()), Read("table", WTE.name())),
)
WPE = Spec("wpe", "wpe.weight", "model", Op.WEIGHT, "param", ("position", "C"), coords=("p", "c"))
POS_EMB = Spec(
    "pos_emb",
    "pos_emb",
    "model",
    Op.POS_EMBED,
    "trace",
    ("T", "C"),
    lambda s: (Read("table", WPE.name()),),
)
EMB = Spec(
    "emb",
    "emb",
    "model",
    Op.RESIDUAL_ADD,
    "trace",
    ("B", "T", "C"),
    lambda s: (Read("stream", TOK_EMB.name()), Read("branch", POS_EMB.name())),
)

LN_1 = _layer_norm("ln_1", "h.{layer}.ln_1", "layer", lambda s: stream_in(s.cfg, s.layer or 0))

# c_attn: one [C, 3C] matrix, drawn as each head's q, k and v columns
C_ATTN_WEIGHT = Spec(
    "attn.c_attn.weight",
    "h.{layer}.attn.c_attn.weight",
    "layer",
    Op.WEIGHT,
    "param",
    ("C", "3C"),
    coords=("k", "j"),
    drawn=False,
)
C_ATTN_BIAS = Spec(
    "attn.c_attn.bias",
    "h.{layer}.attn.c_attn.bias",
    "layer",
    Op.WEIGHT,
    "param",
    ("3C",),
    coords=("j",),
    bias=True,
    drawn=False,
)


def _qkv(letter: str) -> tuple[Spec, Spec, Spec]:
    w = Spec(
        f"head.{letter}_weight",
        f"h.{{layer}}.attn.{{unit}}.{letter}_weight",
        "head",
        Op.WEIGHT,
        "param",
        ("C", "D"),
        coords=("k", "j"),
        param=C_ATTN_WEIGHT,
    )
    b = Spec(
        f"head.{letter}_bias",
        f"h.{{layer}}.attn.{{unit}}.{letter}_bias",
        "head",
        Op.WEIGHT,
        "param",
        ("D",),
        coords=("j",),
        param=C_ATTN_BIAS,
        bias=True,
    )
    y = Spec(
        f"head.{letter}",
        f"h.{{layer}}.attn.{{unit}}.{letter}",
        "head",
        Op.LINEAR,
        "trace",
        ("B", "T", "D"),
        _linear(lambda s: (Read("x", LN_1.out.name(s.layer)),), w, b),
    )
    return w, b, y


Q_WEIGHT, Q_BIAS, Q = _qkv("q")
K_WEIGHT, K_BIAS, K = _qkv("k")
V_WEIGHT, V_BIAS, V = _qkv("v")
SCORES = Spec(
    "head.scores",
    "h.{layer}.attn.{unit}.scores",
    "head",
    Op.SCORES,
    "trace",
    ("B", "T", "T_k"),
    lambda s: (_head(Q, "q")(s), _head(K, "k")(s)),
)
SOFTMAX_MAX = Spec(
    "head.max",
    "h.{layer}.attn.{unit}.max",
    "head",
    Op.SOFTMAX_MAX,
    "trace",
    ("B", "T"),
    lambda s: (_head(SCORES, "scores")(s),),
)
SOFTMAX_EXPSUM = Spec(
    "head.expsum",
    "h.{layer}.attn.{unit}.expsum",
    "head",
    Op.SOFTMAX_EXPSUM,
    "trace",
    ("B", "T"),
    lambda s: (_head(SCORES, "scores")(s), _head(SOFTMAX_MAX, "max")(s)),
)
ATTN_PROBS = Spec(
    "head.probs",
    "h.{layer}.attn.{unit}.probs",
    "head",
    Op.SOFTMAX_PROBS,
    "trace",
    ("B", "T", "T_k"),
    lambda s: (
        _head(SCORES, "scores")(s),
        _head(SOFTMAX_MAX, "max")(s),
        _head(SOFTMAX_EXPSUM, "expsum")(s),
    ),
)
HEAD_OUT = Spec(
    "head.out",
    "h.{layer}.attn.{unit}.out",
    "head",
    Op.HEAD_OUT,
    "trace",
    ("B", "T", "D"),
    lambda s: (_head(ATTN_PROBS, "probs")(s), _head(V, "v")(s)),
)
HEAD_ROWS: tuple[Spec, ...] = (Q_WEIGHT, Q_BIAS, Q, K_WEIGHT, K_BIAS, K, V_WEIGHT, V_BIAS, V)
HEAD_ROWS += (SCORES, SOFTMAX_MAX, SOFTMAX_EXPSUM, ATTN_PROBS, HEAD_OUT)


def _heads_out(s: Site) -> tuple[Read, ...]:
    """attn.proj reads every head's output, side by side (one merged box in a shell)."""
    if s.merged:
        return (Read("x", HEAD_OUT.name(s.layer)),)
    return tuple(Read("x", HEAD_OUT.name(s.layer, h)) for h in range(s.cfg.n_head))


ATTN_C_PROJ_WEIGHT = Spec(
    "attn.c_proj.weight",
    "h.{layer}.attn.c_proj.weight",
    "layer",
    Op.WEIGHT,
    "param",
    ("C", "C"),
    coords=("k", "c"),
)
ATTN_C_PROJ_BIAS = Spec(
    "attn.c_proj.bias",
    "h.{layer}.attn.c_proj.bias",
    "layer",
    Op.WEIGHT,
    "param",
    ("C",),
    coords=("c",),
    bias=True,
)
ATTN_PROJ = Spec(
    "attn.proj",
    "h.{layer}.attn.proj",
    "layer",
    Op.LINEAR,
    "trace",
    ("B", "T", "C"),
    _linear(_heads_out, ATTN_C_PROJ_WEIGHT, ATTN_C_PROJ_BIAS),
)
ATTN_RESIDUAL = Spec(
    "attn.residual",
    "h.{layer}.attn.residual",
    "layer",
    Op.RESIDUAL_ADD,
    "trace",
    ("B", "T", "C"),
    lambda s: (
        Read("stream", stream_in(s.cfg, s.layer or 0)),
        Read("branch", ATTN_PROJ.name(s.layer)),
    ),
)
LN_2 = _layer_norm("ln_2", "h.{layer}.ln_2", "layer", lambda s: ATTN_RESIDUAL.name(s.layer))
C_FC_WEIGHT = Spec(
    "mlp.c_fc.weight",
    "h.{layer}.mlp.c_fc.weight",
    "layer",
    Op.WEIGHT,
    "param",
    ("C", "4C"),
    coords=("k", "j"),
)
C_FC_BIAS = Spec(
    "mlp.c_fc.bias",
    "h.{layer}.mlp.c_fc.bias",
    "layer",
    Op.WEIGHT,
    "param",
    ("4C",),
    coords=("j",),
    bias=True,
)
MLP_FC = Spec(
    "mlp.fc",
    "h.{layer}.mlp.fc",
    "layer",
    Op.LINEAR,
    "trace",
    ("B", "T", "4C"),
    _linear(lambda s: (Read("x", LN_2.out.name(s.layer)),), C_FC_WEIGHT, C_FC_BIAS),
)
MLP_GELU = Spec(
    "mlp.gelu",
    "h.{layer}.mlp.gelu",
    "layer",
    Op.GELU,
    "trace",
    ("B", "T", "4C"),
    lambda s: (Read("x", MLP_FC.name(s.layer)),),
)
MLP_C_PROJ_WEIGHT = Spec(
    "mlp.c_proj.weight",
    "h.{layer}.mlp.c_proj.weight",
    "layer",
    Op.WEIGHT,
    "param",
    ("4C", "C"),
    coords=("k", "c"),
)
MLP_C_PROJ_BIAS = Spec(
    "mlp.c_proj.bias",
    "h.{layer}.mlp.c_proj.bias",
    "layer",
    Op.WEIGHT,
    "param",
    ("C",),
    coords=("c",),
    bias=True,
)
MLP_PROJ = Spec(
    "mlp.proj",
    "h.{layer}.mlp.proj",
    "layer",
    Op.LINEAR,
    "trace",
    ("B", "T", "C"),
    _linear(lambda s: (Read("x", MLP_GELU.name(s.layer)),), MLP_C_PROJ_WEIGHT, MLP_C_PROJ_BIAS),
)
MLP_RESIDUAL = Spec(
    "mlp.residual",
    "h.{layer}.mlp.residual",
    "layer",
    Op.RESIDUAL_ADD,
    "trace",
    ("B", "T", "C"),
    lambda s: (Read("stream", ATTN_RESIDUAL.name(s.layer)), Read("branch", MLP_PROJ.name(s.layer))),
)

LN_F = _layer_norm("ln_f", "ln_f", "model", lambda s: MLP_RESIDUAL.name(s.cfg.n_layer - 1))
# drawn [vocab, C] whether tied or not; when tied its numbers are wte's (the layout's choice)
LM_HEAD = Spec(
    "lm_head", "lm_head.weight", "model", Op.WEIGHT, "param", ("vocab", "C"), coords=("v", "k")
)
LOGITS = Spec(
    "logits",
    "logits",
    "model",
    Op.LOGITS,
    "trace",
    ("B", "T", "vocab"),
    lambda s: (Read("x", LN_F.out.name()), Read("weight", LM_HEAD.name())),
)
PROBS = Spec(
    "probs",
    "probs",
    "model",
    Op.PROBS,
    "trace",
    ("B", "T", "vocab"),
    lambda s: (Read("logits", LOGITS.name()),),
)
OUTPUT_TOKENS = Spec(
    "output_tokens",
    "output_tokens",
    "model",
    Op.ARGMAX,
    "tokens",
    ("B", "T"),
    lambda s: (Read("probs", PROBS.name()),),
    token_key="predicted",
)


def _ln_rows(ln: LayerNorm) -> tuple[Spec, ...]:
    return (ln.mean, ln.rstd, ln.weight, ln.bias, ln.out)  # the drawing order


EMBEDDING_ROWS = (INPUT_TOKENS, WTE, TOK_EMB, WPE, POS_EMB, EMB)
BLOCK_ROWS = (
    *_ln_rows(LN_1),
    C_ATTN_WEIGHT,
    C_ATTN_BIAS,
    *HEAD_ROWS,
    ATTN_C_PROJ_WEIGHT,
    ATTN_C_PROJ_BIAS,
    ATTN_PROJ,
    ATTN_RESIDUAL,
    *_ln_rows(LN_2),
    C_FC_WEIGHT,
    C_FC_BIAS,
    MLP_FC,
    MLP_GELU,
    MLP_C_PROJ_WEIGHT,
    MLP_C_PROJ_BIAS,
    MLP_PROJ,
    MLP_RESIDUAL,
)
OUTPUT_ROWS = (*_ln_rows(LN_F), LM_HEAD, LOGITS, PROBS, OUTPUT_TOKENS)
TABLE: tuple[Spec, ...] = (*EMBEDDING_ROWS, *BLOCK_ROWS, *OUTPUT_ROWS)
ROWS: dict[str, Spec] = {spec.key: spec for spec in TABLE}
assert len(ROWS) == len(TABLE), "duplicate row keys"


# ---- concrete tensors of one model -----------------------------------------------------------


@lru_cache(maxsize=32)
def activations(cfg: GPTConfig, merged: bool = False) -> tuple[Activation, ...]:
    """Every tensor of a model, in computation (and drawing) order: the trace's entries, the
    parameters, the token rows and the per-head slices of c_attn. Biases only when the config
    has them. merged: each head row once per layer (head None), as a large shell draws it."""
    out: list[Activation] = []

    def emit(spec: Spec, layer: int | None, head: int | None) -> None:
        if spec.bias and not cfg.bias:
            return
        reads = spec.reads(Site(cfg, layer, head, merged))
        out.append(Activation(spec.name(layer, head), spec, layer, head, reads))

    heads: list[int | None] = [None] if merged else list(range(cfg.n_head))
    for spec in EMBEDDING_ROWS:
        emit(spec, None, None)
    for layer in range(cfg.n_layer):
        for spec in BLOCK_ROWS:
            if spec.scope != "head":
                emit(spec, layer, None)
            elif spec is HEAD_ROWS[0]:  # all rows of head 0, then of head 1, ...
                for head in heads:
                    for row in HEAD_ROWS:
                        emit(row, layer, head)
    for spec in OUTPUT_ROWS:
        emit(spec, None, None)
    return tuple(out)


@lru_cache(maxsize=32)
def by_name(cfg: GPTConfig, merged: bool = False) -> dict[str, Activation]:
    return {a.name: a for a in activations(cfg, merged)}


def traced(cfg: GPTConfig) -> list[Activation]:
    """The entries of a forward pass's trace, in the order gpt.forward adds them."""
    return [a for a in activations(cfg) if a.spec.store == "trace"]


def drawn(cfg: GPTConfig, merged: bool = False) -> list[Activation]:
    """One per scene box, in the scene's order."""
    return [a for a in activations(cfg, merged) if a.spec.drawn]


def shape(a: Activation, cfg: GPTConfig, batch: int, tokens: int) -> tuple[int, ...]:
    """The stored shape of a trace tensor or (unsliced for drawn=False rows) parameter."""
    C, D = cfg.n_embd, cfg.head_dim
    dims = {"B": batch, "T": tokens, "T_k": tokens, "C": C, "D": D, "3C": 3 * C, "4C": 4 * C}
    dims.update(vocab=cfg.vocab_size, position=cfg.block_size)
    return tuple(dims[axis] for axis in a.axes)


SOFTMAX = (SCORES, SOFTMAX_MAX, SOFTMAX_EXPSUM, ATTN_PROBS)  # one attention softmax, in order
LAYER_NORMS = (LN_1, LN_2, LN_F)


def softmax_names(layer: int | None, head: int | None) -> tuple[str, ...]:
    """scores, max, expsum, probs of one head (head None: a merged shell's boxes)."""
    return tuple(spec.name(layer, head) for spec in SOFTMAX)


def layer_norm(cfg: GPTConfig, prefix: str) -> tuple[LayerNorm, int | None] | None:
    """The layer norm a chapter's prefix ("h.0.ln_1", "ln_f") names, and its layer."""
    for ln in LAYER_NORMS:
        layers: list[int | None] = [None] if ln.out.scope == "model" else list(range(cfg.n_layer))
        for layer in layers:
            if ln.prefix(layer) == prefix:
                return ln, layer
    return None
