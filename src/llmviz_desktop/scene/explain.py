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

A box's operation (``box.op``, declared in model/activations.py) picks its handler, and the
boxes it reads are ``box.inputs`` by role: nothing here parses a name.

Conventions:

* ``index`` indexes the stored array of the box's ValueSource (``trace[key]``, ``params[key]``
  or the token ids), batch row 0. Shell boxes have no ValueSource; their index is into
  ``box.address``, the one the box would have with values. A merged-head box of a shell
  (``h.{i}.attn.heads.*``) stands for the heads side by side along the last axis:
  ``(0, t, h·D + d)`` for q/k/v/out, ``(0, t, h·T + t_k)`` for scores/probs, ``(0, t, h)``
  for max/expsum.
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

from ..model import activations as A
from ..model.activations import Op
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


# ---- the cells of other boxes ----------------------------------------------------------------


def _address(box: TensorBox) -> ValueSource:
    """Where a box's numbers live (the table's declaration, copied by the layout)."""
    src = box.address or box.source
    if src is None or box.op is None:
        raise ValueError(f"explain: no explanation for box {box.name!r}")
    return src


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
    src = _address(box)
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
        self.src: ValueSource = _address(box)
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

    def input(self, role: str) -> str:
        """The name of the box this one reads in `role` (declared in the table)."""
        return next(r.name for r in self.box.inputs if r.role == role)

    def inputs(self, role: str) -> list[str]:
        return [r.name for r in self.box.inputs if r.role == role]

    def key(self, name: str) -> str:
        """The stored array (trace name or parameter key) box `name` shows."""
        return _address(self.scene.by_name[name]).key

    def head_ref(self, role: str, ref_role: str, a=None, x=None) -> None:
        """Cells of the head tensor read in `role`: positions a, per-head columns x (None =
        the whole head); a merged box holds the heads side by side."""
        name = self.input(role)
        op = self.scene.by_name[name].op
        if self.merged:
            if op in (Op.SOFTMAX_MAX, Op.SOFTMAX_EXPSUM):
                w = 1
            elif op in (Op.SCORES, Op.SOFTMAX_PROBS):
                w = self.scene.n_tokens
            else:
                w = self.cfg.head_dim
            lo = self.head * w
            x = (lo, lo + w) if x is None else (lo + x[0], lo + x[1])
        elif op in (Op.SOFTMAX_MAX, Op.SOFTMAX_EXPSUM):
            x = None
        self.ref(name, ref_role, a, x)

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


# ---- handlers, one per operation ------------------------------------------------------------


def _token(c: _Ctx) -> _Out:
    t = c.co["t"]
    c.self_ref("token")
    out = _Out("token", "token[t] = id of the input token at position t")
    out.lines.append("an input token, read from the prompt (not computed)")
    if c.numeric:
        tok = int(c.trace.tokens[0, t])
        c.ref(A.WTE.name(), "embedding row", (tok, tok + 1))  # the row it selects
        out.lines.append(f"token id {tok}{c.vtok(tok)}")
        out.recomputed = float(tok)
        out.extra.update(token_id=tok, token=c.letter(tok))
    return out


def _predicted(c: _Ctx) -> _Out:
    t = c.co["t"]
    c.self_ref("token")
    out = _Out("token", "next[t] = argmax_v probs[t,v]  (the predicted next token)")
    probs = c.input("probs")
    c.ref(probs, "probabilities", (t, t + 1))
    if c.numeric:
        p = c.row(probs, t)
        v = int(np.argmax(p))
        out.lines.append(f"predicted next token = argmax of probs[{t}] = {v}{c.vtok(v)}")
        out.lines.append(f"with probability {fmt(p[v])}")
        out.recomputed = float(v)
        out.extra.update(token_id=v, token=c.letter(v), probability=float(p[v]))
    return out


def _weight(c: _Ctx) -> _Out:
    src = c.src
    names = ", ".join(c.box.index_axes)
    out = _Out("weight", f"{src.key}[{names}]  (a learned parameter)")
    out.lines.append("a learned parameter: set by training, not computed from the input")
    if src.key == A.WTE.name() and c.box.spec == A.LM_HEAD.key:
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
    table = c.input("table")
    c.ref(c.input("token"), "token", (t, t + 1))
    if c.numeric:
        tok = int(c.trace.tokens[0, t])
        c.ref(table, "embedding row", (tok, tok + 1), (ch, ch + 1))
        v = float(c.par(c.key(table))[tok, ch])
        out.lines.append(f"token[{t}] = {tok}{c.vtok(tok)}: row {tok} of the embedding table")
        out.lines.append(f"= wte[{tok}, {ch}] = {fmt(v)}")
        out.recomputed = v
        out.extra.update(token_id=tok, token=c.letter(tok))
    else:
        c.ref(table, "embedding table", None, (ch, ch + 1))
    return out


def _position(c: _Ctx) -> _Out:
    t, ch = c.co["t"], c.co["c"]
    out = _Out("position", "pos_emb[t,c] = wpe[t,c]")
    table = c.input("table")
    c.ref(table, "position row", (t, t + 1), (ch, ch + 1))
    out.lines.append(f"row {t} of the position table: the same for every token at position {t}")
    if c.numeric:
        v = float(c.par(c.key(table))[t, ch])
        out.lines.append(f"= wpe[{t}, {ch}] = {fmt(v)}")
        out.recomputed = v
    return out


# the three stream sums: (formula, role of the stream, role of the branch joining it)
_RESIDUALS = {
    A.EMB.key: (
        "emb[t,c] = tok_emb[t,c] + pos_emb[t,c]",
        ("token embedding", "position embedding"),
    ),
    A.ATTN_RESIDUAL.key: (
        "residual[t,c] = x[t,c] + attn.proj[t,c]",
        ("residual input", "attention output"),
    ),
    A.MLP_RESIDUAL.key: (
        "residual[t,c] = attn.residual[t,c] + mlp.proj[t,c]",
        ("residual input", "MLP output"),
    ),
}


def _residual(c: _Ctx) -> _Out:
    t, ch = c.co["t"], c.co["c"]
    a, b = c.input("stream"), c.input("branch")
    formula, roles = _RESIDUALS[c.box.spec]
    out = _Out("residual", formula)
    c.ref(a, roles[0], (t, t + 1), (ch, ch + 1))
    c.ref(b, roles[1], (t, t + 1), (ch, ch + 1))
    if c.box.spec == A.ATTN_RESIDUAL.key:  # its formula calls the stream x
        out.lines.append(f"x = {a} (the residual stream entering the block)")
    if c.numeric:
        va, vb = c.scalar(a, t, ch), c.scalar(b, t, ch)
        out.recomputed = va + vb
        out.lines.append(f"= {fmt(va)} + {fmt(vb)} = {fmt(out.recomputed)}")
    return out


def _ln_mean(c: _Ctx) -> _Out:
    t, C = c.co["t"], c.cfg.n_embd
    xname = c.input("x")
    col = (t, t + 1)
    x_line = f"x = {xname}, C = {C}"
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


def _ln_rstd(c: _Ctx) -> _Out:
    t = c.co["t"]
    C, eps = c.cfg.n_embd, c.cfg.layer_norm_epsilon
    xname, mean = c.input("x"), c.input("mean")
    col = (t, t + 1)
    x_line = f"x = {xname}, C = {C}"
    out = _Out("ln_rstd", "rstd[t] = 1/√(σ²[t] + ε),  σ²[t] = Σ_c (x[t,c] − μ[t])²/C")
    c.ref(xname, "input column", col)
    c.ref(mean, "mean", col)
    out.lines.append(f"{x_line}, ε = {fmt(eps)}")
    out.n_terms = C
    if c.numeric:
        mu = c.scalar(mean, t)
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


def _ln_out(c: _Ctx) -> _Out:
    t, ch, C = c.co["t"], c.co["c"], c.cfg.n_embd
    xname, mean, rstd_name, gain = c.input("x"), c.input("mean"), c.input("rstd"), c.input("gain")
    bias = c.inputs("bias")  # declared only when the config has biases
    col = (t, t + 1)
    has_bias = c.cfg.bias
    formula = "out[t,c] = (x[t,c] − μ[t])·rstd[t]·γ[c]" + (" + β[c]" if has_bias else "")
    out = _Out("layernorm", formula)
    c.ref(xname, "input column", col)
    c.ref(mean, "mean", col)
    c.ref(rstd_name, "rstd", col)
    c.ref(gain, "gain γ", (ch, ch + 1))
    for name in bias:
        c.ref(name, "bias β", (ch, ch + 1))
    out.lines.append(
        f"x = {xname}, C = {C}; γ = {gain}" + "".join(f", β = {name}" for name in bias)
    )
    if c.numeric:
        xi = c.scalar(xname, t, ch)
        mu, rstd = c.scalar(mean, t), c.scalar(rstd_name, t)
        g = float(c.par(c.key(gain))[ch])
        bkeys = [c.key(name) for name in bias]
        beta = float(c.par(bkeys[0])[ch]) if bkeys and c.has_param(bkeys[0]) else 0.0
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


_QKV = (A.Q.key, A.K.key, A.V.key)  # c_attn's column blocks, in order


def _qkv(c: _Ctx) -> _Out:
    t, d, h = c.co["t"], c.co["d"], c.head
    C, D, part = c.cfg.n_embd, c.cfg.head_dim, _QKV.index(c.box.spec)
    letter = "qkv"[part]
    col = part * C + h * D + d
    has_b = c.cfg.bias
    b = "b[j] + " if has_b else ""
    formula = f"{letter}[t,d] = {b}Σ_k ln_1.out[t,k]·c_attn.weight[k,j],  j = {part}·C + h·D + d"
    out = _Out("matmul", formula)
    out.lines.append(
        f"j = {part}·{C} + {h}·{D} + {d} = {col}" + ("  (b = c_attn.bias)" if b else "")
    )
    x_name, weight, bias = c.input("x"), c.input("weight"), c.inputs("bias")
    c.ref(x_name, "input column", (t, t + 1))
    c.ref(weight, "weight column", None, (col, col + 1))
    for name in bias:
        c.ref(name, "bias", (col, col + 1))
    b_key = c.key(bias[0]) if bias else None
    return _linear(c, out, lambda: c.row(x_name, t), c.key(weight), col, b_key, C)


def _score(c: _Ctx) -> _Out:
    t, tk, D = c.co["t"], c.co["t_k"], c.cfg.head_dim
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
        q, k = c.row(c.input("q"), t), c.row(c.input("k"), tk)
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
        s = c.row(c.input("scores"), t, 0, t + 1)
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
        m = c.scalar(c.input("max"), t)
        a = c.row(c.input("scores"), t, 0, t + 1) - m
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
        s = c.scalar(c.input("scores"), t, tk)
        m = c.scalar(c.input("max"), t)
        z = c.scalar(c.input("expsum"), t)
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
        p = c.row(c.input("probs"), t, 0, t + 1)
        vname = c.input("v")
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
    t, ch = c.co["t"], c.co["c"]
    H, D, C = c.cfg.n_head, c.cfg.head_dim, c.cfg.n_embd
    b = "b[c] + " if c.cfg.bias else ""
    formula = f"proj[t,c] = {b}Σ_k y[t,k]·c_proj.weight[k,c],  y[t,h·D+d] = head h out[t,d]"
    out = _Out("matmul", formula)
    out.lines.append(f"y: the {H} heads' outputs side by side ({H} × {D} = {C} values)")
    units = c.inputs("x")  # every head's output (one merged box in a large shell)
    weight, bias = c.input("weight"), c.inputs("bias")
    for name in units:
        c.ref(name, "head output", (t, t + 1))
    c.ref(weight, "weight column", None, (ch, ch + 1))
    for name in bias:
        c.ref(name, "bias", (ch, ch + 1))

    def y() -> np.ndarray:
        return np.concatenate([c.row(name, t) for name in units])

    bias_key = c.key(bias[0]) if bias else None
    return _linear(c, out, y, c.key(weight), ch, bias_key, C)


def _mlp_matmul(c: _Ctx) -> _Out:
    t, C = c.co["t"], c.cfg.n_embd
    has_b = c.cfg.bias
    if c.box.spec == A.MLP_FC.key:
        col, n_in = c.co["j"], C
        b = "b[j] + " if has_b else ""
        formula = f"fc[t,j] = {b}Σ_k ln_2.out[t,k]·c_fc.weight[k,j]"
    else:
        col, n_in = c.co["c"], 4 * C
        b = "b[c] + " if has_b else ""
        formula = f"proj[t,c] = {b}Σ_k gelu[t,k]·c_proj.weight[k,c]"
    x_name, weight, bias = c.input("x"), c.input("weight"), c.inputs("bias")
    out = _Out("matmul", formula)
    c.ref(x_name, "input column", (t, t + 1))
    c.ref(weight, "weight column", None, (col, col + 1))
    for name in bias:
        c.ref(name, "bias", (col, col + 1))
    bias_key = c.key(bias[0]) if bias else None
    x = lambda: c.row(x_name, t)  # noqa: E731
    return _linear(c, out, x, c.key(weight), col, bias_key, n_in)


# LINEAR boxes differ in what they read and how their formula is written
_LINEARS: dict[str, Callable[[_Ctx], _Out]] = {
    A.Q.key: _qkv,
    A.K.key: _qkv,
    A.V.key: _qkv,
    A.ATTN_PROJ.key: _attn_proj,
    A.MLP_FC.key: _mlp_matmul,
    A.MLP_PROJ.key: _mlp_matmul,
}


def _linear_op(c: _Ctx) -> _Out:
    return _LINEARS[c.box.spec](c)


_ACTIVATION_FORMULAS = {  # activation_function values other than the tanh GELU
    "gelu": "gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2))  (exact GELU),  x = fc[t,j]",
    "relu": "relu(x) = max(x, 0),  x = fc[t,j]",
    "silu": "silu(x) = x/(1 + exp(−x)),  x = fc[t,j]",
    "swish": "swish(x) = x/(1 + exp(−x)),  x = fc[t,j]",
}


def _gelu(c: _Ctx) -> _Out:
    t, j = c.co["t"], c.co["j"]
    fc = c.input("x")
    act = c.cfg.activation
    if act in _ACTIVATION_FORMULAS:  # the config's own nonlinearity, not the tanh GELU
        out = _Out("gelu", _ACTIVATION_FORMULAS[act])
        out.plot = "gelu" if act == "gelu" else None
        c.ref(fc, "input", (t, t + 1), (j, j + 1))
        if c.numeric:
            x = c.scalar(fc, t, j)
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
    c.ref(fc, "input", (t, t + 1), (j, j + 1))
    if c.numeric:
        x = c.scalar(fc, t, j)
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
    wte, lm = A.WTE.name(), A.LM_HEAD.name()
    w = f"{wte} (tied)" if tied else lm
    out = _Out("logits", "logits[t,v] = Σ_k ln_f.out[t,k]·W_lm[v,k]")
    out.lines.append(f"W_lm = {w}; row v = {v}{c.vtok(v)}: how much each feature votes for it")
    x_name = c.input("x")
    c.ref(x_name, "input column", (t, t + 1))
    c.ref(c.input("weight"), "unembedding row", (v, v + 1))
    out.n_terms = C
    if not c.numeric:
        out.lines.append(f"sum over k = 0 … {C - 1} ({C} terms)")
        return out
    x = c.row(x_name, t)
    key = wte if tied or not c.has_param(lm) else lm
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
    logits = c.input("logits")
    c.ref(logits, "logit", (t, t + 1), (v, v + 1))
    c.ref(logits, "logits column", (t, t + 1))
    out.n_terms = V
    if c.numeric:
        lg = c.row(logits, t)
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


_HANDLERS: dict[Op, Callable[[_Ctx], _Out]] = {
    Op.TOKEN: _token,
    Op.ARGMAX: _predicted,
    Op.WEIGHT: _weight,
    Op.EMBED: _embedding,
    Op.POS_EMBED: _position,
    Op.RESIDUAL_ADD: _residual,
    Op.LAYERNORM_MEAN: _ln_mean,
    Op.LAYERNORM_RSTD: _ln_rstd,
    Op.LAYERNORM_OUT: _ln_out,
    Op.LINEAR: _linear_op,
    Op.SCORES: _score,
    Op.SOFTMAX_MAX: _smax,
    Op.SOFTMAX_EXPSUM: _expsum,
    Op.SOFTMAX_PROBS: _head_probs,
    Op.HEAD_OUT: _head_out,
    Op.GELU: _gelu,
    Op.LOGITS: _logits,
    Op.PROBS: _probs,
}


# ---- the entry point ------------------------------------------------------------------------


def _coords(scene: Scene, box: TensorBox, idx: tuple[int, ...]) -> dict[str, int]:
    """Named coordinates of an index (merged-head columns split into h and d / t_k)."""
    rest = idx[1:] if _address(box).batched else idx
    co: dict[str, int] = {}
    for name, v in zip(box.index_axes, rest, strict=False):
        if name == "h·d":
            D = scene.config.head_dim
            co["h"], co["d"] = divmod(v, D)
        elif name == "h·t_k":
            co["h"], co["t_k"] = divmod(v, scene.n_tokens)
        else:
            co[name] = v
    return co


def _index_text(c: _Ctx, idx: tuple[int, ...]) -> str:
    parts = []
    for name, v in c.co.items():
        label = f"{name} = {v}"
        if name in ("t", "t_k"):
            label += c.tok(v)
        elif name == "v":
            label += c.vtok(v)
        parts.append(label)
    text = ", ".join(parts)
    if c.src.store == "param":
        text = f"{c.src.key}[{', '.join(str(v) for v in idx)}]: {text}"
    return text


def _has_values(box: TensorBox, trace: Any, params: Any) -> bool:
    if box.source is None:
        return False
    if box.op == Op.WEIGHT:
        return params is not None
    if box.op in (Op.TOKEN, Op.ARGMAX):
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
    src = _address(box)
    idx = src.index(i, j)
    numeric = _has_values(box, trace, params)
    co = _coords(scene, box, idx)
    c = _Ctx(
        scene,
        box,
        (i, j),
        idx,
        co,
        trace if numeric else None,
        params if numeric else None,
        numeric,
    )
    index_text = _index_text(c, idx)
    out = _HANDLERS[box.op](c)  # type: ignore[index]  # _address checked op
    value = shown = None
    if numeric:
        if box.op == Op.ARGMAX:
            # what ValueSource.array draws (argmax over the whole trace), for this row only
            stored = np.argmax(trace[c.input("probs")][idx])
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
