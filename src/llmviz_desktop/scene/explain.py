"""Explain one cell: what it is, its value, and exactly how it was computed (pure numpy).

    ex = explain(scene, "h.0.attn.head1.q", i, j, trace, params)
    ex.value        # the drawn number: box.source.matrix(trace, params)[i, j]
    ex.recomputed   # the same number, recomputed in float64 from the cell's inputs
    ex.formula      # "q[t,d] = b[j] + Σ_k ln_1.out[t,k]·c_attn.weight[k,j],  j = 0·C + h·D + d"
    ex.lines        # the formula again with the actual numbers (4 significant digits)
    ex.sources      # the input cells to highlight, in each box's drawn (row, col) space

The trace is the single source of every number: inputs are read from the trace and the
parameters, never from another explanation, and the recomputed value must equal the drawn one.
Without values (a render-only shell, trace or params None) the explanation is symbolic: title,
index, operation, formula and shapes, value and recomputed None.

Conventions:

* ``index`` indexes the stored array of the box's ValueSource (``trace[key]``, ``params[key]``
  or the token ids), batch row 0. Shell boxes have no ValueSource; their index is the one the
  box would have with values. A merged-head box of a shell (``h.{i}.attn.heads.*``) stands for
  the heads side by side along the last axis: ``(0, t, h·D + d)`` for q/k/v/out,
  ``(0, t, h·T + t_k)`` for scores/probs, ``(0, t, h)`` for max/expsum.
* Axis names in ``index_text`` and formulas: t (position), t_k (key position), c (C), d (head
  dim), h (head), j (4C, and a c_attn column), k (a summation index), v (vocabulary),
  p (position row of wpe). T axes name the token: ``t = 3 (B)``.
* ``emb = tok_emb + pos_emb`` is operation ``residual``: it starts the residual stream, and
  every elementwise stream sum a + b has that operation (``embedding`` is the wte lookup).
* Terms of a sum: ``product = a·b``; with ``b`` None the summand itself (``x`` for a layer-norm
  mean, ``exp(s − max)`` for a softmax sum). An attention score's product is ``q·k`` before the
  1/√D scale. The vocabulary softmax (``probs``) lists its denominator's terms.
* Characters: only glyphs present in the UI font (imgui_bundle's DroidSans): Σ · √ − × ∞ … ≤ ²
  ³ π μ γ β ε; no subscript letters (``Σ_k``, not a subscript k).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.gpt import GELU_A, GELU_B, activation, attn_scale
from .boxes import Scene, TensorBox, ValueSource

OPERATIONS: tuple[str, ...] = (
    "matmul",
    "attention_sum",
    "residual",
    "embedding",
    "position",
    "layernorm",
    "ln_mean",
    "ln_rstd",
    "score",
    "masked_score",
    "softmax_max",
    "softmax_sum",
    "softmax",
    "gelu",
    "logits",
    "probs",
    "weight",
    "token",
)
# the non-ASCII characters explanations may use (all present in DroidSans.ttf)
SYMBOLS = "Σ·√−×∞…≤²³πμγβεσ≈–"
N_TERMS = 5  # Explanation.terms: the largest |product| terms
N_INLINE = 3  # terms written out in the numeric line
N_LISTED = 6  # values written out in a max(...) line
_CACHE_ATTR = "_explain_info"


@dataclass(frozen=True)
class SourceRef:
    """Cells of a box to highlight, in drawn (row, col) space."""

    box: str  # box name in the scene
    rows: tuple[int, int] | None  # half-open drawn-row range, None = all rows
    cols: tuple[int, int] | None  # half-open drawn-col range, None = all cols
    role: str  # short: "input column", "weight column", "bias", "mean", "query", ...


@dataclass(frozen=True)
class Term:
    """One term of a sum (the largest ones are listed)."""

    k: int  # summation index
    a: float  # e.g. x[t, k]
    b: float | None  # e.g. W[k, c]; None when the term has one factor
    product: float  # a·b, or the summand itself when b is None


@dataclass(frozen=True)
class Explanation:
    box: str
    title: str
    kind: str
    cell: tuple[int, int]  # drawn (i, j)
    index: tuple[int, ...]  # index into the underlying array (trace, param or token ids)
    index_text: str  # "t = 3 (B), c = 12"
    value: float | None  # the drawn value (None for shells)
    operation: str  # one of OPERATIONS
    formula: str  # symbolic
    lines: tuple[str, ...]  # the formula with the actual numbers (or shapes, for shells)
    terms: tuple[Term, ...]  # up to N_TERMS largest |product| terms of a sum
    n_terms: int  # length of the sum (0 if not a sum)
    recomputed: float | None  # recomputed from the inputs (float64)
    sources: tuple[SourceRef, ...]  # what to highlight
    plot: str | None = None  # "gelu": plot the GELU curve (marker at plot_x when given)
    plot_x: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the value as printed, in the tooltip's header and as the formula's total (the last line
    # ends with "= shown"): the trace's own number (float64 for small models, see
    # model.counts.trace_dtype) to the digits it and `recomputed` agree on, at most 4. None
    # for shells.
    shown: str | None = None


# ---- numbers and text -----------------------------------------------------------------------


def fmt(v: float) -> str:
    """4 significant digits, a real minus sign, ∞ for infinities."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.4g}".replace("-", "−")


def fmt_digits(v: float, digits: int) -> str:
    """fmt with `digits` significant digits (1 to 4)."""
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return fmt(v)
    return f"{v:.{digits}g}".replace("-", "−")


def agreed(stored: float, recomputed: float | None) -> str:
    """The digits of `stored` (a trace value) that its recomputation from the trace's inputs
    in float64 confirms: 4 significant digits when both print the same, else fewer; when not
    even the first digit agrees (a float32 value that is all rounding error, far below the
    size of what was summed), one digit marked ≈."""
    if recomputed is None:
        return fmt(stored)
    for digits in (4, 3, 2, 1):
        text = fmt_digits(stored, digits)
        if text == fmt_digits(recomputed, digits):
            return text
    return "≈" + fmt_digits(stored, 1)


def _prod(a: float, b: float) -> str:
    return f"{fmt(a)} × {fmt(b)}"


def _top(products: np.ndarray) -> np.ndarray:
    """Indices of the N_TERMS largest |products|, largest first."""
    mag = np.abs(products)
    if len(mag) > N_TERMS:
        part = np.argpartition(-mag, N_TERMS - 1)[:N_TERMS]
    else:
        part = np.arange(len(mag))
    return part[np.argsort(-mag[part], kind="stable")]


def _terms(a: np.ndarray, b: np.ndarray | None, products: np.ndarray, k0: int = 0):
    order = _top(products)
    return tuple(
        Term(
            int(k) + k0,
            float(a[k]),
            None if b is None else float(b[k]),
            float(products[k]),
        )
        for k in order
    )


def _sum_text(terms: tuple[Term, ...], n: int, one: Callable[[Term], str]) -> str:
    """'t1 + t2 + t3 + … 45 more' with the largest terms written out."""
    shown = [one(t) for t in terms[:N_INLINE]]
    if n > len(shown):
        shown.append(f"… {n - len(shown)} more")
    return " + ".join(shown)


def _listing(values: np.ndarray) -> str:
    text = ", ".join(fmt(v) for v in values[:N_LISTED])
    return text + (", …" if len(values) > N_LISTED else "")


# ---- per-box information (cached on the scene) ----------------------------------------------


@dataclass(frozen=True)
class _Info:
    tag: str  # which handler explains the box
    src: ValueSource  # the box's source, or the one it would have with values
    axes: tuple[str, ...]  # names of the stored array's axes after the batch axis
    part: int = 0  # q, k, v = 0, 1, 2 for attention boxes


_WEIGHT_AXES = {
    "wte.weight": ("v", "c"),
    "wpe.weight": ("p", "c"),
    "lm_head.weight": ("v", "k"),
    "attn.c_attn.weight": ("k", "j"),
    "attn.c_attn.bias": ("j",),
    "attn.c_proj.weight": ("k", "c"),
    "attn.c_proj.bias": ("c",),
    "mlp.c_fc.weight": ("k", "j"),
    "mlp.c_fc.bias": ("j",),
    "mlp.c_proj.weight": ("k", "c"),
    "mlp.c_proj.bias": ("c",),
}
_HEAD_TAGS = {"q": "qkv", "k": "qkv", "v": "qkv", "scores": "score", "max": "max"}
_HEAD_TAGS.update({"expsum": "expsum", "probs": "head_probs", "out": "head_out"})
_SPINE = {  # name (without "h.{i}.") -> (tag, axes)
    "tok_emb": ("tok_emb", ("t", "c")),
    "pos_emb": ("pos_emb", ("t", "c")),
    "emb": ("emb", ("t", "c")),
    "logits": ("logits", ("t", "v")),
    "probs": ("probs", ("t", "v")),
    "attn.proj": ("attn_proj", ("t", "c")),
    "attn.residual": ("attn_residual", ("t", "c")),
    "mlp.fc": ("mlp_fc", ("t", "j")),
    "mlp.gelu": ("gelu", ("t", "j")),
    "mlp.proj": ("mlp_proj", ("t", "c")),
    "mlp.residual": ("mlp_residual", ("t", "c")),
}


def _parse(scene: Scene, box: TensorBox) -> _Info:
    """What a box shows, from its name (the layout's naming scheme) and its source."""
    cfg = scene.config
    C, D = cfg.n_embd, cfg.head_dim
    name = box.name
    local = name.split(".", 2)[2] if name.startswith("h.") else name
    tr_src = ValueSource("trace", name, transpose=True, batched=name != "pos_emb")
    if name in ("input_tokens", "output_tokens"):
        key = "input" if name == "input_tokens" else "predicted"
        src = ValueSource("tokens", key, transpose=True, batched=True, ndim=1)
        return _Info("token", box.source or src, ("t",))
    if ".attn.head" in name:
        suffix = name.rsplit(".", 1)[1]
        merged = box.heads_merged > 1
        head = box.head or 0
        if suffix.endswith(("_weight", "_bias")):
            letter, what = suffix.split("_")
            part = "qkv".index(letter)
            lo = part * C + (0 if merged else head * D)
            rng = (lo, lo + (C if merged else D))
            key = f"h.{box.layer}.attn.c_attn.{what}"
            if what == "weight":
                src = ValueSource("param", key, transpose=True, cols=rng)
            else:
                src = ValueSource("param", key, ndim=1, rows=rng)
            return _Info("weight", box.source or src, _WEIGHT_AXES[f"attn.c_attn.{what}"], part)
        tag = _HEAD_TAGS[suffix]
        part = "qkv".index(suffix) if tag == "qkv" else 0
        if tag in ("max", "expsum"):
            axes: tuple[str, ...] = ("t", "h") if merged else ("t",)
        elif tag in ("score", "head_probs"):
            axes = ("t", "h·t_k") if merged else ("t", "t_k")
        else:
            axes = ("t", "h·d") if merged else ("t", "d")
        src = ValueSource("trace", name, transpose=True, batched=True, ndim=len(axes))
        return _Info(tag, box.source or src, axes, part)
    if local in _SPINE:
        tag, axes = _SPINE[local]
        return _Info(tag, box.source or tr_src, axes)
    ln = name.rsplit(".", 1)
    if ln[0] == "ln_f" or ln[0].endswith((".ln_1", ".ln_2")):
        if ln[1] in ("mean", "rstd"):
            src = ValueSource("trace", name, transpose=True, batched=True, ndim=1)
            return _Info(f"ln_{ln[1]}", box.source or src, ("t",))
        if ln[1] == "out":
            return _Info("ln_out", box.source or tr_src, ("t", "c"))
        return _Info("weight", box.source or ValueSource("param", name, ndim=1), ("c",))
    if name == "lm_head.weight":
        key = "wte.weight" if cfg.tie_word_embeddings else name
        src = ValueSource("param", key)
        return _Info("weight", box.source or src, _WEIGHT_AXES[name])
    if local in _WEIGHT_AXES:
        axes = _WEIGHT_AXES[local]
        if len(axes) == 1:
            src = ValueSource("param", name, ndim=1)
        else:
            src = ValueSource("param", name, transpose=True)
        return _Info("weight", box.source or src, axes)
    raise ValueError(f"explain: no explanation for box {name!r}")


def _info(scene: Scene, name: str) -> _Info:
    """Per-box information, parsed once per scene on first use (stored on the scene)."""
    cache: dict[str, _Info] = scene.cached(_CACHE_ATTR, dict)
    info = cache.get(name)
    if info is None:
        info = cache[name] = _parse(scene, scene.by_name[name])
    return info


def _ref(
    scene: Scene,
    name: str,
    role: str,
    a: tuple[int, int] | None = None,
    b: tuple[int, int] | None = None,
) -> SourceRef | None:
    """The drawn cells of box `name` showing rows a, columns b (half-open, None = all) of its
    source matrix (the stored array, batch row 0, a 1-D array read as one column); None when
    the box is absent or draws none of them."""
    box = scene.by_name.get(name)
    if box is None:
        return None
    src = _info(scene, name).src
    n_a, n_b = (box.cols, box.rows) if src.transpose else (box.rows, box.cols)
    clipped = []
    for rng, sl, n in ((a, src.rows, n_a), (b, src.cols, n_b)):
        off = sl[0] if sl is not None else 0
        lo, hi = (0, n) if rng is None else (max(rng[0] - off, 0), min(rng[1] - off, n))
        if lo >= hi:
            return None
        clipped.append((lo, hi))
    rows, cols = (clipped[1], clipped[0]) if src.transpose else (clipped[0], clipped[1])
    return SourceRef(
        name,
        None if rows == (0, box.rows) else rows,
        None if cols == (0, box.cols) else cols,
        role,
    )


# ---- the context a handler works in ---------------------------------------------------------


@dataclass
class _Out:
    operation: str
    formula: str
    lines: list[str] = field(default_factory=list)
    terms: tuple[Term, ...] = ()
    n_terms: int = 0
    recomputed: float | None = None
    plot: str | None = None
    plot_x: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Ctx:
    def __init__(
        self,
        scene: Scene,
        box: TensorBox,
        info: _Info,
        ij: tuple[int, int],
        idx: tuple[int, ...],
        co: dict[str, int],
        trace: Any,
        params: Mapping[str, np.ndarray] | None,
        numeric: bool,
    ):
        self.scene: Scene = scene
        self.ij: tuple[int, int] = ij
        self.idx: tuple[int, ...] = idx
        self.cfg = scene.config
        self.box: TensorBox = box
        self.info: _Info = info
        self.co: dict[str, int] = co
        self.trace = trace
        self.params: Mapping[str, np.ndarray] | None = params
        self.numeric: bool = numeric
        self.sources: list[SourceRef] = []
        self.layer: int = box.layer if box.layer is not None else -1
        self.merged = box.heads_merged > 1
        self.head: int = co.get("h", box.head or 0)

    def ref(self, name: str, role: str, a=None, b=None) -> None:
        r = _ref(self.scene, name, role, a, b)
        if r is not None:
            self.sources.append(r)

    def self_ref(self, role: str) -> None:
        i, j = self.ij
        self.sources.append(SourceRef(self.box.name, (i, i + 1), (j, j + 1), role))

    def head_name(self, suffix: str) -> str:
        unit = "heads" if self.merged else f"head{self.head}"
        return f"h.{self.layer}.attn.{unit}.{suffix}"

    def head_ref(self, suffix: str, role: str, a=None, x=None) -> None:
        """A head tensor's cells: positions a, per-head columns x (None = the whole head)."""
        if self.merged:
            if suffix in ("max", "expsum"):
                w = 1
            elif suffix in ("scores", "probs"):
                w = self.scene.n_tokens
            else:
                w = self.cfg.head_dim
            lo = self.head * w
            x = (lo, lo + w) if x is None else (lo + x[0], lo + x[1])
        elif suffix in ("max", "expsum"):
            x = None
        self.ref(self.head_name(suffix), role, a, x)

    def row(self, name: str, t: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """float64 trace[name][0, t, lo:hi] (no batch axis for pos_emb)."""
        arr = self.trace[name]
        if self.trace.axes(name)[0] == "B":
            arr = arr[0]
        return np.asarray(arr[t, lo:hi], dtype=np.float64)

    def scalar(self, name: str, *idx: int) -> float:
        arr = self.trace[name]
        if self.trace.axes(name)[0] == "B":
            arr = arr[0]
        return float(arr[idx])

    def par(self, key: str) -> np.ndarray:
        assert self.params is not None
        return self.params[key]

    def has_param(self, key: str) -> bool:
        return self.params is not None and key in self.params

    def tok(self, t: int) -> str:
        """' (B)': the token at position t, when there are values and a vocabulary."""
        vocab = self.cfg.vocab
        if self.trace is None or vocab is None:
            return ""
        return f" ({vocab[int(self.trace.tokens[0, t])]})"

    def letter(self, v: int) -> str | None:
        """Token v's string, when the model has a vocabulary."""
        vocab = self.cfg.vocab
        return vocab[v] if vocab is not None and 0 <= v < len(vocab) else None

    def vtok(self, v: int) -> str:
        """' (B)' for token id v, when the model has a vocabulary."""
        s = self.letter(v)
        return "" if s is None else f" ({s})"


def _stream_input(layer: int) -> str:
    """The residual stream entering block `layer`."""
    return "emb" if layer == 0 else f"h.{layer - 1}.mlp.residual"


# ---- handlers, one per box tag --------------------------------------------------------------


def _token(c: _Ctx) -> _Out:
    t = c.co["t"]
    c.self_ref("token")
    if c.info.src.key == "input":
        out = _Out("token", "token[t] = id of the input token at position t")
        out.lines.append("an input token, read from the prompt (not computed)")
        if c.numeric:
            tok = int(c.trace.tokens[0, t])
            c.ref("wte.weight", "embedding row", (tok, tok + 1))
            out.lines.append(f"token id {tok}{c.vtok(tok)}")
            out.recomputed = float(tok)
            out.extra.update(token_id=tok, token=c.letter(tok))
        return out
    out = _Out("token", "next[t] = argmax_v probs[t,v]  (the predicted next token)")
    c.ref("probs", "probabilities", (t, t + 1))
    if c.numeric:
        p = c.row("probs", t)
        v = int(np.argmax(p))
        out.lines.append(f"predicted next token = argmax of probs[{t}] = {v}{c.vtok(v)}")
        out.lines.append(f"with probability {fmt(p[v])}")
        out.recomputed = float(v)
        out.extra.update(token_id=v, token=c.letter(v), probability=float(p[v]))
    return out


def _weight(c: _Ctx) -> _Out:
    src = c.info.src
    names = ", ".join(c.info.axes)
    out = _Out("weight", f"{src.key}[{names}]  (a learned parameter)")
    out.lines.append("a learned parameter: set by training, not computed from the input")
    if src.key == "wte.weight" and c.box.name == "lm_head.weight":
        out.lines.append("tied: the unembedding is the token embedding table wte")
    c.self_ref("parameter")
    out.extra["param"] = src.key
    if c.numeric:
        v = float(src.array(c.trace, c.params)[c.idx])
        out.lines.append(f"= {fmt(v)}")
        out.recomputed = v
    return out


def _embedding(c: _Ctx) -> _Out:
    t, ch = c.co["t"], c.co["c"]
    out = _Out("embedding", "tok_emb[t,c] = wte[token[t], c]")
    c.ref("input_tokens", "token", (t, t + 1))
    if c.numeric:
        tok = int(c.trace.tokens[0, t])
        c.ref("wte.weight", "embedding row", (tok, tok + 1), (ch, ch + 1))
        v = float(c.par("wte.weight")[tok, ch])
        out.lines.append(f"token[{t}] = {tok}{c.vtok(tok)}: row {tok} of the embedding table")
        out.lines.append(f"= wte[{tok}, {ch}] = {fmt(v)}")
        out.recomputed = v
        out.extra.update(token_id=tok, token=c.letter(tok))
    else:
        c.ref("wte.weight", "embedding table", None, (ch, ch + 1))
    return out


def _position(c: _Ctx) -> _Out:
    t, ch = c.co["t"], c.co["c"]
    out = _Out("position", "pos_emb[t,c] = wpe[t,c]")
    c.ref("wpe.weight", "position row", (t, t + 1), (ch, ch + 1))
    out.lines.append(f"row {t} of the position table: the same for every token at position {t}")
    if c.numeric:
        v = float(c.par("wpe.weight")[t, ch])
        out.lines.append(f"= wpe[{t}, {ch}] = {fmt(v)}")
        out.recomputed = v
    return out


def _residual(c: _Ctx) -> _Out:
    t, ch = c.co["t"], c.co["c"]
    tag, L = c.info.tag, c.layer
    if tag == "emb":
        a, b = "tok_emb", "pos_emb"
        formula = "emb[t,c] = tok_emb[t,c] + pos_emb[t,c]"
        roles = ("token embedding", "position embedding")
    elif tag == "attn_residual":
        a, b = _stream_input(L), f"h.{L}.attn.proj"
        formula = "residual[t,c] = x[t,c] + attn.proj[t,c]"
        roles = ("residual input", "attention output")
    else:
        a, b = f"h.{L}.attn.residual", f"h.{L}.mlp.proj"
        formula = "residual[t,c] = attn.residual[t,c] + mlp.proj[t,c]"
        roles = ("residual input", "MLP output")
    out = _Out("residual", formula)
    c.ref(a, roles[0], (t, t + 1), (ch, ch + 1))
    c.ref(b, roles[1], (t, t + 1), (ch, ch + 1))
    if tag == "attn_residual":
        out.lines.append(f"x = {a} (the residual stream entering the block)")
    if c.numeric:
        va, vb = c.scalar(a, t, ch), c.scalar(b, t, ch)
        out.recomputed = va + vb
        out.lines.append(f"= {fmt(va)} + {fmt(vb)} = {fmt(out.recomputed)}")
    return out


def _ln_parts(c: _Ctx) -> tuple[str, str]:
    """(layer-norm prefix, name of its input)."""
    prefix = c.box.name.rsplit(".", 1)[0]
    if prefix == "ln_f":
        return prefix, f"h.{c.cfg.n_layer - 1}.mlp.residual"
    if prefix.endswith("ln_1"):
        return prefix, _stream_input(c.layer)
    return prefix, f"h.{c.layer}.attn.residual"


def _layernorm(c: _Ctx) -> _Out:
    t = c.co["t"]
    C, eps = c.cfg.n_embd, c.cfg.layer_norm_epsilon
    prefix, xname = _ln_parts(c)
    tag = c.info.tag
    col = (t, t + 1)
    x_line = f"x = {xname}, C = {C}"
    if tag == "ln_mean":
        out = _Out("ln_mean", "μ[t] = (1/C)·Σ_c x[t,c]")
        c.ref(xname, "input column", col)
        out.lines.append(x_line)
        out.n_terms = C
        if c.numeric:
            x = c.row(xname, t)
            s = float(x.sum())
            out.terms = _terms(x, None, x)
            out.recomputed = s / C
            inner = _sum_text(out.terms, C, lambda tm: fmt(tm.a))
            out.lines.append(f"= ({inner}) / {C}")
            out.lines.append(f"= {fmt(s)} / {C} = {fmt(out.recomputed)}")
        return out
    if tag == "ln_rstd":
        out = _Out("ln_rstd", "rstd[t] = 1/√(σ²[t] + ε),  σ²[t] = Σ_c (x[t,c] − μ[t])²/C")
        c.ref(xname, "input column", col)
        c.ref(f"{prefix}.mean", "mean", col)
        out.lines.append(f"{x_line}, ε = {fmt(eps)}")
        out.n_terms = C
        if c.numeric:
            mu = c.scalar(f"{prefix}.mean", t)
            xc = c.row(xname, t) - mu
            sq = xc * xc
            s = float(sq.sum())
            var = s / C
            out.terms = _terms(xc, xc, sq)
            root = math.sqrt(var + eps)
            out.recomputed = 1.0 / root
            inner = _sum_text(out.terms, C, lambda tm: f"({fmt(tm.a)})²")
            out.lines.append(f"μ = {fmt(mu)}: Σ_c (x − μ)² = {inner} = {fmt(s)}")
            out.lines.append(f"variance σ² = {fmt(s)}/{C} = {fmt(var)}; √(σ² + ε) = {fmt(root)}")
            out.lines.append(f"rstd = 1/√(σ² + ε) = 1/{fmt(root)} = {fmt(out.recomputed)}")
            out.extra.update(mean=mu, variance=var, root=root)
        return out
    ch = c.co["c"]
    has_bias = c.cfg.bias
    formula = "out[t,c] = (x[t,c] − μ[t])·rstd[t]·γ[c]" + (" + β[c]" if has_bias else "")
    out = _Out("layernorm", formula)
    c.ref(xname, "input column", col)
    c.ref(f"{prefix}.mean", "mean", col)
    c.ref(f"{prefix}.rstd", "rstd", col)
    c.ref(f"{prefix}.weight", "gain γ", (ch, ch + 1))
    if has_bias:
        c.ref(f"{prefix}.bias", "bias β", (ch, ch + 1))
    out.lines.append(
        f"{x_line}; γ = {prefix}.weight" + (f", β = {prefix}.bias" if has_bias else "")
    )
    if c.numeric:
        xi = c.scalar(xname, t, ch)
        mu, rstd = c.scalar(f"{prefix}.mean", t), c.scalar(f"{prefix}.rstd", t)
        g = float(c.par(f"{prefix}.weight")[ch])
        bkey = f"{prefix}.bias"
        beta = float(c.par(bkey)[ch]) if has_bias and c.has_param(bkey) else 0.0
        xh = (xi - mu) * rstd
        out.recomputed = xh * g + beta
        tail = f" + {fmt(beta)}" if has_bias else ""
        out.lines.append(f"μ = {fmt(mu)}, rstd = 1/√(σ² + ε) = {fmt(rstd)}")
        out.lines.append(f"= ({fmt(xi)} − {fmt(mu)}) × {fmt(rstd)} × {fmt(g)}{tail}")
        out.lines.append(f"= {fmt(xh)} × {fmt(g)}{tail} = {fmt(out.recomputed)}")
        out.extra.update(x=xi, mean=mu, rstd=rstd, normalized=xh)
    return out


def _linear(
    c: _Ctx,
    out: _Out,
    x: Callable[[], np.ndarray],
    w_key: str,
    col: int,
    b_key: str | None,
    n_in: int,
) -> _Out:
    """out += the numbers of b[col] + Σ_k x[t,k]·W[k,col] (W [in, out] stored)."""
    out.n_terms = n_in
    if not c.numeric:
        out.lines.append(f"sum over k = 0 … {n_in - 1} ({n_in} terms)")
        return out
    xv = x()
    w = np.asarray(c.par(w_key)[:, col], dtype=np.float64)
    products = xv * w
    s = float(products.sum())
    bias = float(c.par(b_key)[col]) if b_key is not None and c.has_param(b_key) else None
    out.terms = _terms(xv, w, products)
    out.recomputed = s if bias is None else bias + s
    inner = _sum_text(out.terms, n_in, lambda tm: _prod(tm.a, tm.b or 0.0))
    head = "" if bias is None else f"{fmt(bias)} + "
    out.lines.append(f"= {head}({inner})")
    out.lines.append(f"= {head}{fmt(s)} = {fmt(out.recomputed)}")
    out.extra["sum"] = s
    return out


def _qkv(c: _Ctx) -> _Out:
    t, d, h, L = c.co["t"], c.co["d"], c.head, c.layer
    C, D, part = c.cfg.n_embd, c.cfg.head_dim, c.info.part
    letter = "qkv"[part]
    col = part * C + h * D + d
    has_b = c.cfg.bias
    b = "b[j] + " if has_b else ""
    formula = f"{letter}[t,d] = {b}Σ_k ln_1.out[t,k]·c_attn.weight[k,j],  j = {part}·C + h·D + d"
    out = _Out("matmul", formula)
    out.lines.append(
        f"j = {part}·{C} + {h}·{D} + {d} = {col}" + ("  (b = c_attn.bias)" if b else "")
    )
    x_name = f"h.{L}.ln_1.out"
    c.ref(x_name, "input column", (t, t + 1))
    c.ref(c.head_name(f"{letter}_weight"), "weight column", None, (col, col + 1))
    if has_b:
        c.ref(c.head_name(f"{letter}_bias"), "bias", (col, col + 1))
    return _linear(
        c,
        out,
        lambda: c.row(x_name, t),
        f"h.{L}.attn.c_attn.weight",
        col,
        f"h.{L}.attn.c_attn.bias" if has_b else None,
        C,
    )


def _score(c: _Ctx) -> _Out:
    t, tk, D = c.co["t"], c.co["t_k"], c.cfg.head_dim
    pre = c.head_name("")
    if tk > t:
        out = _Out("masked_score", "s[t,t_k] = −∞ for t_k > t  (causal mask)")
        out.lines.append(f"t_k = {tk} > t = {t}: a future position the query cannot attend to")
        out.lines.append("= −∞, so its softmax weight is exp(−∞) = 0")
        c.head_ref("q", "query", (t, t + 1))
        c.head_ref("k", "key (future: masked)", (tk, tk + 1))
        if c.numeric:
            out.recomputed = -math.inf
        return out
    # the config's scaling (Hugging Face's scale_attn_weights, scale_attn_by_inverse_layer_idx)
    sqrt_d, by_layer = c.cfg.scale_attn_weights, c.cfg.scale_attn_by_inverse_layer_idx
    div = "·".join(([f"√{D}"] if sqrt_d else []) + ([f"{c.layer + 1}"] if by_layer else []))
    symbolic = "·".join((["√D"] if sqrt_d else []) + (["(layer + 1)"] if by_layer else []))
    divisor = 1.0 / attn_scale(c.cfg, c.layer)
    tail = f" / {symbolic}" if symbolic else "  (no scaling: scale_attn_weights is off)"
    out = _Out("score", f"s[t,t_k] = Σ_d q[t,d]·k[t_k,d]{tail}")
    c.head_ref("q", "query", (t, t + 1))
    c.head_ref("k", "key", (tk, tk + 1))
    out.n_terms = D
    if sqrt_d:
        out.lines.append(f"D = {D}, √D = {fmt(math.sqrt(D))}")
    if by_layer:
        out.lines.append(f"layer {c.layer}: also divided by layer + 1 = {c.layer + 1}")
    if c.numeric:
        q, k = c.row(pre + "q", t), c.row(pre + "k", tk)
        products = q * k
        s = float(products.sum())
        out.terms = _terms(q, k, products)
        out.recomputed = s / divisor
        inner = _sum_text(out.terms, D, lambda tm: _prod(tm.a, tm.b or 0.0))
        if div:
            out.lines.append(f"= ({inner}) / {div}")
            out.lines.append(f"= {fmt(s)} / {fmt(divisor)} = {fmt(out.recomputed)}")
        else:
            out.lines.append(f"= {inner} = {fmt(out.recomputed)}")
        out.extra["dot"] = s
    return out


def _smax(c: _Ctx) -> _Out:
    t = c.co["t"]
    out = _Out("softmax_max", "m[t] = max over t_k ≤ t of s[t,t_k]")
    out.lines.append(f"over the {t + 1} visible keys t_k = 0 … {t} (the stable-softmax shift)")
    c.head_ref("scores", "scores", (t, t + 1), (0, t + 1))
    if c.numeric:
        s = c.row(c.head_name("scores"), t, 0, t + 1)
        k = int(np.argmax(s))
        out.recomputed = float(s[k])
        out.lines.append(f"= max({_listing(s)}) = {fmt(s[k])}  (at t_k = {k}{c.tok(k)})")
        out.extra["argmax"] = k
    return out


def _expsum(c: _Ctx) -> _Out:
    t = c.co["t"]
    out = _Out("softmax_sum", "Z[t] = Σ over t_k ≤ t of exp(s[t,t_k] − m[t])")
    c.head_ref("scores", "scores", (t, t + 1), (0, t + 1))
    c.head_ref("max", "max", (t, t + 1))
    out.n_terms = t + 1
    out.lines.append(f"over the {t + 1} visible keys t_k = 0 … {t}")
    if c.numeric:
        m = c.scalar(c.head_name("max"), t)
        a = c.row(c.head_name("scores"), t, 0, t + 1) - m
        with np.errstate(under="ignore"):
            e = np.exp(a)
        out.terms = _terms(a, None, e)
        out.recomputed = float(e.sum())
        inner = _sum_text(out.terms, t + 1, lambda tm: f"exp({fmt(tm.a)})")
        out.lines.append(f"m = {fmt(m)}: = {inner}")
        values = _sum_text(out.terms, t + 1, lambda tm: fmt(tm.product))
        out.lines.append(f"= {values} = {fmt(out.recomputed)}")
        out.extra["max"] = m
    return out


def _head_probs(c: _Ctx) -> _Out:
    t, tk = c.co["t"], c.co["t_k"]
    out = _Out("softmax", "p[t,t_k] = exp(s[t,t_k] − m[t]) / Z[t]")
    c.head_ref("scores", "score", (t, t + 1), (tk, tk + 1))
    c.head_ref("max", "max", (t, t + 1))
    c.head_ref("expsum", "sum", (t, t + 1))
    c.head_ref("scores", "score row", (t, t + 1), (0, t + 1))
    if tk > t:
        out.lines.append(f"t_k = {tk} > t = {t}: masked future position, s = −∞")
        out.lines.append("= exp(−∞) / Z = 0")
        if c.numeric:
            out.recomputed = 0.0
        return out
    if c.numeric:
        s = c.scalar(c.head_name("scores"), t, tk)
        m = c.scalar(c.head_name("max"), t)
        z = c.scalar(c.head_name("expsum"), t)
        e = math.exp(s - m)
        out.recomputed = e / z
        out.lines.append(f"= exp({fmt(s)} − {fmt(m)}) / {fmt(z)}")
        out.lines.append(f"= {fmt(e)} / {fmt(z)} = {fmt(out.recomputed)}")
        out.extra.update(max=m, sum=z, score=s)
    return out


def _head_out(c: _Ctx) -> _Out:
    t, d = c.co["t"], c.co["d"]
    out = _Out("attention_sum", "out[t,d] = Σ over t_k ≤ t of p[t,t_k]·v[t_k,d]")
    c.head_ref("probs", "attention weights", (t, t + 1), (0, t + 1))
    c.head_ref("v", "values", (0, t + 1), (d, d + 1))
    out.n_terms = t + 1
    out.lines.append(f"a weighted average of the values of the {t + 1} visible positions")
    if c.numeric:
        p = c.row(c.head_name("probs"), t, 0, t + 1)
        vname = c.head_name("v")
        arr = c.trace[vname][0]
        v = np.asarray(arr[: t + 1, d], dtype=np.float64)
        products = p * v
        out.terms = _terms(p, v, products)
        out.recomputed = float(products.sum())
        inner = _sum_text(out.terms, t + 1, lambda tm: _prod(tm.a, tm.b or 0.0))
        out.lines.append(f"= {inner}")
        out.lines.append(f"= {fmt(out.recomputed)}")
    return out


def _attn_proj(c: _Ctx) -> _Out:
    t, ch, L = c.co["t"], c.co["c"], c.layer
    H, D, C = c.cfg.n_head, c.cfg.head_dim, c.cfg.n_embd
    b = "b[c] + " if c.cfg.bias else ""
    formula = f"proj[t,c] = {b}Σ_k y[t,k]·c_proj.weight[k,c],  y[t,h·D+d] = head h out[t,d]"
    out = _Out("matmul", formula)
    out.lines.append(f"y: the {H} heads' outputs side by side ({H} × {D} = {C} values)")
    merged = c.scene.heads_merged > 1
    units = [f"h.{L}.attn.heads.out"] if merged else [f"h.{L}.attn.head{h}.out" for h in range(H)]
    for name in units:
        c.ref(name, "head output", (t, t + 1))
    key = f"h.{L}.attn.c_proj"
    c.ref(f"{key}.weight", "weight column", None, (ch, ch + 1))
    if c.cfg.bias:
        c.ref(f"{key}.bias", "bias", (ch, ch + 1))

    def y() -> np.ndarray:
        return np.concatenate([c.row(name, t) for name in units])

    bias_key = f"{key}.bias" if c.cfg.bias else None
    return _linear(c, out, y, f"{key}.weight", ch, bias_key, C)


def _mlp_matmul(c: _Ctx) -> _Out:
    t, L, C = c.co["t"], c.layer, c.cfg.n_embd
    has_b = c.cfg.bias
    if c.info.tag == "mlp_fc":
        col, x_name, key, n_in = c.co["j"], f"h.{L}.ln_2.out", f"h.{L}.mlp.c_fc", C
        b = "b[j] + " if has_b else ""
        formula = f"fc[t,j] = {b}Σ_k ln_2.out[t,k]·c_fc.weight[k,j]"
    else:
        col, x_name, key, n_in = c.co["c"], f"h.{L}.mlp.gelu", f"h.{L}.mlp.c_proj", 4 * C
        b = "b[c] + " if has_b else ""
        formula = f"proj[t,c] = {b}Σ_k gelu[t,k]·c_proj.weight[k,c]"
    out = _Out("matmul", formula)
    c.ref(x_name, "input column", (t, t + 1))
    c.ref(f"{key}.weight", "weight column", None, (col, col + 1))
    if has_b:
        c.ref(f"{key}.bias", "bias", (col, col + 1))
    bias_key = f"{key}.bias" if has_b else None
    x = lambda: c.row(x_name, t)  # noqa: E731
    return _linear(c, out, x, f"{key}.weight", col, bias_key, n_in)


_ACTIVATION_FORMULAS = {  # activation_function values other than the tanh GELU
    "gelu": "gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2))  (exact GELU),  x = fc[t,j]",
    "relu": "relu(x) = max(x, 0),  x = fc[t,j]",
    "silu": "silu(x) = x/(1 + exp(−x)),  x = fc[t,j]",
    "swish": "swish(x) = x/(1 + exp(−x)),  x = fc[t,j]",
}


def _gelu(c: _Ctx) -> _Out:
    t, j, L = c.co["t"], c.co["j"], c.layer
    act = c.cfg.activation
    if act in _ACTIVATION_FORMULAS:  # the config's own nonlinearity, not the tanh GELU
        out = _Out("gelu", _ACTIVATION_FORMULAS[act])
        out.plot = "gelu" if act == "gelu" else None
        c.ref(f"h.{L}.mlp.fc", "input", (t, t + 1), (j, j + 1))
        if c.numeric:
            x = c.scalar(f"h.{L}.mlp.fc", t, j)
            out.recomputed = float(activation(act, np.array([x], dtype=np.float64))[0])
            out.plot_x = x
            out.lines.append(f"x = fc[{t}, {j}] = {fmt(x)}")
            if act == "gelu":
                out.lines.append(f"= 0.5 × {fmt(x)} × (1 + erf({fmt(x / math.sqrt(2.0))}))")
            out.lines.append(f"= {fmt(out.recomputed)}")
            out.extra["x"] = x
        return out
    out = _Out("gelu", "gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),  x = fc[t,j]")
    out.plot = "gelu"
    c.ref(f"h.{L}.mlp.fc", "input", (t, t + 1), (j, j + 1))
    if c.numeric:
        x = c.scalar(f"h.{L}.mlp.fc", t, j)
        inner = GELU_A * (x + GELU_B * x * x * x)
        th = math.tanh(inner)
        out.recomputed = 0.5 * x * (1.0 + th)
        out.plot_x = x
        out.lines.append(f"x = fc[{t}, {j}] = {fmt(x)}")
        out.lines.append(
            f"= 0.5 × {fmt(x)} × (1 + tanh({fmt(GELU_A)} × ({fmt(x)} + 0.044715 × {fmt(x)}³)))"
        )
        out.lines.append(f"= 0.5 × {fmt(x)} × (1 + tanh({fmt(inner)}))")
        out.lines.append(f"= 0.5 × {fmt(x)} × (1 + {fmt(th)}) = {fmt(out.recomputed)}")
        out.extra["x"] = x
    return out


def _logits(c: _Ctx) -> _Out:
    t, v, C = c.co["t"], c.co["v"], c.cfg.n_embd
    tied = c.cfg.tie_word_embeddings
    w = "wte.weight (tied)" if tied else "lm_head.weight"
    out = _Out("logits", "logits[t,v] = Σ_k ln_f.out[t,k]·W_lm[v,k]")
    out.lines.append(f"W_lm = {w}; row v = {v}{c.vtok(v)}: how much each feature votes for it")
    c.ref("ln_f.out", "input column", (t, t + 1))
    c.ref("lm_head.weight", "unembedding row", (v, v + 1))
    out.n_terms = C
    if not c.numeric:
        out.lines.append(f"sum over k = 0 … {C - 1} ({C} terms)")
        return out
    x = c.row("ln_f.out", t)
    key = "wte.weight" if tied or not c.has_param("lm_head.weight") else "lm_head.weight"
    wv = np.asarray(c.par(key)[v], dtype=np.float64)
    products = x * wv
    out.terms = _terms(x, wv, products)
    out.recomputed = float(products.sum())
    inner = _sum_text(out.terms, C, lambda tm: _prod(tm.a, tm.b or 0.0))
    out.lines.append(f"= {inner}")
    out.lines.append(f"= {fmt(out.recomputed)}")
    return out


def _probs(c: _Ctx) -> _Out:
    t, v, V = c.co["t"], c.co["v"], c.cfg.vocab_size
    out = _Out("probs", "p[t,v] = exp(logits[t,v] − m[t]) / Σ_u exp(logits[t,u] − m[t])")
    out.lines.append(f"softmax over the {V} vocabulary entries; m[t] = max_u logits[t,u]")
    c.ref("logits", "logit", (t, t + 1), (v, v + 1))
    c.ref("logits", "logits column", (t, t + 1))
    out.n_terms = V
    if c.numeric:
        lg = c.row("logits", t)
        m = float(lg.max())
        a = lg - m
        with np.errstate(under="ignore"):
            e = np.exp(a)
        z = float(e.sum())
        out.terms = _terms(a, None, e)
        out.recomputed = float(e[v]) / z
        inner = _sum_text(out.terms, V, lambda tm: f"exp({fmt(tm.a)})")
        out.lines.append(f"m = {fmt(m)}; Σ_u exp(logits − m) = {inner} = {fmt(z)}")
        out.lines.append(f"= exp({fmt(lg[v])} − {fmt(m)}) / {fmt(z)}")
        out.lines.append(f"= {fmt(e[v])} / {fmt(z)} = {fmt(out.recomputed)}")
        out.extra.update(max=m, sum=z)
    return out


_HANDLERS: dict[str, Callable[[_Ctx], _Out]] = {
    "token": _token,
    "weight": _weight,
    "tok_emb": _embedding,
    "pos_emb": _position,
    "emb": _residual,
    "attn_residual": _residual,
    "mlp_residual": _residual,
    "ln_mean": _layernorm,
    "ln_rstd": _layernorm,
    "ln_out": _layernorm,
    "qkv": _qkv,
    "score": _score,
    "max": _smax,
    "expsum": _expsum,
    "head_probs": _head_probs,
    "head_out": _head_out,
    "attn_proj": _attn_proj,
    "mlp_fc": _mlp_matmul,
    "mlp_proj": _mlp_matmul,
    "gelu": _gelu,
    "logits": _logits,
    "probs": _probs,
}


# ---- the entry point ------------------------------------------------------------------------


def _coords(scene: Scene, info: _Info, idx: tuple[int, ...]) -> dict[str, int]:
    """Named coordinates of an index (merged-head columns split into h and d / t_k)."""
    rest = idx[1:] if info.src.batched else idx
    co: dict[str, int] = {}
    for name, v in zip(info.axes, rest, strict=False):
        if name == "h·d":
            D = scene.config.head_dim
            co["h"], co["d"] = divmod(v, D)
        elif name == "h·t_k":
            co["h"], co["t_k"] = divmod(v, scene.n_tokens)
        else:
            co[name] = v
    return co


def _index_text(c: _Ctx, info: _Info, idx: tuple[int, ...]) -> str:
    parts = []
    for name, v in c.co.items():
        label = f"{name} = {v}"
        if name in ("t", "t_k"):
            label += c.tok(v)
        elif name == "v":
            label += c.vtok(v)
        parts.append(label)
    text = ", ".join(parts)
    if info.src.store == "param":
        text = f"{info.src.key}[{', '.join(str(v) for v in idx)}]: {text}"
    return text


def _has_values(box: TensorBox, info: _Info, trace: Any, params: Any) -> bool:
    if box.source is None:
        return False
    if info.tag == "weight":
        return params is not None
    if info.tag == "token":
        return trace is not None
    return trace is not None and params is not None


def explain(
    scene: Scene,
    box_name: str,
    i: int,
    j: int,
    trace: Any = None,
    params: Mapping[str, np.ndarray] | None = None,
) -> Explanation:
    """Explain drawn cell (i, j) of box `box_name` (see the module docstring)."""
    box = scene.by_name[box_name]
    i, j = int(i), int(j)
    if not (0 <= i < box.rows and 0 <= j < box.cols):
        raise IndexError(f"{box_name}: cell ({i}, {j}) outside {box.rows} x {box.cols}")
    info = _info(scene, box_name)
    idx = info.src.index(i, j)
    numeric = _has_values(box, info, trace, params)
    co = _coords(scene, info, idx)
    c = _Ctx(
        scene,
        box,
        info,
        (i, j),
        idx,
        co,
        trace if numeric else None,
        params if numeric else None,
        numeric,
    )
    index_text = _index_text(c, info, idx)
    out = _HANDLERS[info.tag](c)
    value = shown = None
    if numeric:
        src = info.src
        if src.store == "tokens" and src.key == "predicted":
            # what ValueSource.array draws (argmax over the whole trace), for this row only
            stored = np.argmax(trace["probs"][idx])
        else:
            stored = src.array(trace, params)[idx]
        value = float(np.float32(stored))  # exactly what box.source.matrix() draws
        shown = agreed(float(stored), out.recomputed)
        _end_with(out.lines, out.recomputed, shown)
    else:
        out.lines.insert(0, f"{box.rows} × {box.cols} cells ({box.row_axis} × {box.col_axis})")
        out.lines.append("no values: a render-only shell")
    return Explanation(
        box=box.name,
        title=box.title,
        kind=box.kind,
        cell=(i, j),
        index=idx,
        index_text=index_text,
        value=value,
        operation=out.operation,
        formula=out.formula,
        lines=tuple(out.lines),
        terms=out.terms,
        n_terms=out.n_terms,
        recomputed=out.recomputed,
        sources=tuple(c.sources),
        plot=out.plot,
        plot_x=out.plot_x,
        extra=out.extra,
        shown=shown,
    )


def _end_with(lines: list[str], recomputed: float | None, shown: str) -> None:
    """Print the formula's total (the last line's final "= number", or one before a "  ("
    note) as `shown`, so the header and the total are one number with the same digits."""
    if recomputed is None or not lines:
        return
    total = f"= {fmt(recomputed)}"
    line = lines[-1]
    at = line.rfind(total)
    rest = line[at + len(total) :]
    if at >= 0 and (rest == "" or rest.startswith("  (")):
        lines[-1] = f"{line[:at]}= {shown}{rest}"
