"""build_scene: a GPT config (and, when there are values, its trace and weights) -> Scene.

Geometry (world units, 1 unit = 1 cell; x right, y up, z toward the viewer; the computation
flows DOWN). Every box is box_depth cells deep (about 1.5 gaps), its cells on its front face.

* Activations are drawn with rows = features (C, D, 4C, vocab) and one column per token (T).
* The residual stream and everything on it (tokens, embeddings, layer-norm rows and outputs,
  projections, residual adds, MLP, logits) is a spine of T columns centred on x = 0, in the
  spine plane: front face at z = box_depth / 2, so the spine's boxes are centred on z = 0.
* A linear layer y = x @ W + b (Conv1D, W [in, out]) is drawn the classic way: W^T
  ([out rows, in cols]) sits LEFT of y with the same top row (rows aligned) and at y's depth,
  the bias (one column) between W^T and y, and the input x ABOVE y in the same columns, so
  cell y[r, t] is where row r of W^T meets column t of x (in the front view: x, y). Exact for
  c_fc (input ln_2.out), mlp c_proj (input gelu), lm_head (input ln_f.out), every head's k and
  v (input ln_1.out) and, inside each head, out = probs @ v (v left of out, probs above it).
* Attention scores are drawn transposed: cell (i, j) is query t = j against key t_k = i
  ([T_k rows, T cols]; the masked future is the lower-left triangle i > j). Column j runs
  straight down from the head's q column j (q sits directly above scores), through max[j],
  expsum[j] and probs column j, into the head output column j. k sits LEFT of scores, as the
  left operand of scores^T = K Q^T: column t_k of the k box is read as row t_k of scores.
* The heads of a layer stand ONE BEHIND ANOTHER IN DEPTH: every head has the same x and y
  (the head column of q, scores, max, expsum, probs, out one gap right of the spine, its q
  weights left of q; k and v on the spine columns, directly under ln_1.out, their weights
  left of them), and head n's front face is head_pitch * n behind the spine's (head 0 in
  the spine plane). The heads of a layer span 2C in depth, half the MLP's 4C width, so the
  model keeps width seen from the side.

One layer, front view (per-head, as for nano-sort; | marks the spine at x = 0; heads 1 ..
H-1 hide behind head 0, and the side view shows them):

                               |
                           [ residual in  C x T ]    emb, or the previous mlp.residual
                           [ ln_1.mean    1 x T ]
                           [ ln_1.rstd    1 x T ]
                  [g] [b]  [ ln_1.out     C x T ]
                       [Wq^T D x C][bq]  [q   D x T]
      [Wk^T D x C][bk]     [ k  D x T ]  [scores T_k x T]
                                         [max      1 x T]
                                         [expsum   1 x T]
                                         [probs T_k x T]
      [Wv^T D x C][bv]     [ v  D x T ]  [out      D x T]
      [Wo^T C x C][bo]     [ attn.proj      C x T ]
                           [ attn.residual  C x T ]
                  [g] [b]  [ ln_2 mean, rstd, out ]
    [Wfc^T 4C x C][bfc]    [ mlp.fc    4C x T ]
                           [ mlp.gelu  4C x T ]
    [Wpr^T C x 4C][bpr]    [ mlp.proj   C x T ]
                           [ mlp.residual C x T ]

The same layer seen from above (x right, depth going up the page):

      head 2   [W^T ][b] [k, v] [q .. out]     front face z = front - 2 * head_pitch
      head 1   [W^T ][b] [k, v] [q .. out]     front face z = front - head_pitch
      head 0   [W^T ][b] [k, v] [q .. out]     front face z = front: the spine plane, with
               ln_1.out, attn.proj, the MLP and everything else

Above layer 0: the input token row, wte^T [C, vocab] left of tok_emb, wpe^T [C, block_size]
left of pos_emb, then emb. Below the last layer: ln_f, lm_head [vocab, C] left of logits,
probs, and the predicted-token row.

Render-only shells (no trace): T = min(block_size, SHELL_MAX_TOKENS) columns unless n_tokens is
given; with more than MERGE_HEADS_ABOVE heads, each head tensor kind of a layer is one box
standing for all heads stacked along its rows (heads_merged = n_head): q/k/v/out [H*D, T],
their weights [H*D, C] (exactly c_attn's q, k or v block, transposed), scores/probs [H*T_k, T],
max/expsum [H, T]. A scene with a trace always has one box per head tensor.

Spacing: g = max(2, round(C / 24)) cells between neighbouring boxes, 2g between the parts of a
layer, 4g between layers, so large models still read as blocks; in depth, head_pitch =
max(2C / (H - 1), D, box_depth + g) between heads. Merged-head shells have one box per head
kind per layer, in the spine plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..model import activations as A
from ..model.config import GPTConfig
from .boxes import Kind, Scene, TensorBox, ValueSource

CELL = 1.0  # world units per cell
# token columns of a render-only shell: min(block_size, this); a 64-token prompt keeps the
# attention matrices (T x T per head) from dwarfing the weights, which are drawn at true size
SHELL_MAX_TOKENS = 64
MERGE_HEADS_ABOVE = 12  # shells with more heads than this merge each layer's heads


def gap_cells(cfg: GPTConfig) -> int:
    """The basic gap between neighbouring boxes, in cells (grows with the model width)."""
    return max(2, round(cfg.n_embd / 24))


def box_depth(cfg: GPTConfig) -> int:
    """How many cells deep every box is: enough that its top and side faces show in a
    three-quarter view, in proportion to the gaps (so large models are not paper-thin)."""
    return max(2, round(1.5 * gap_cells(cfg)))


def head_pitch(cfg: GPTConfig) -> int:
    """Depth (cells) from one attention head's front face to the next head's. The heads of a
    layer span 2C in depth, half the width of the widest box (the MLP down-projection's 4C
    columns), so seen from the side the model is still about half as wide as from the front;
    never less than D, nor than a box and a gap (neighbours never touch)."""
    spread = round(2 * cfg.n_embd / max(cfg.n_head - 1, 1))
    return max(spread, cfg.head_dim, box_depth(cfg) + gap_cells(cfg))


class _Builder:
    def __init__(
        self,
        cfg: GPTConfig,
        trace: Any,
        params: Mapping[str, np.ndarray] | None,
        n_tokens: int,
        merged: bool,
    ):
        self.cfg, self.trace, self.params = cfg, trace, params
        self.T = n_tokens
        self.merged = merged
        self.acts = A.by_name(cfg, merged)  # what each box is, from the table
        self.g = float(gap_cells(cfg)) * CELL  # between neighbours
        self.G = 2 * self.g  # between the parts of a layer
        self.L = 4 * self.g  # between layers
        self.depth = float(box_depth(cfg)) * CELL
        self.front = self.depth / 2  # the spine's front face: boxes on it are centred on z = 0
        self.x0 = -self.T * CELL / 2  # left edge of the spine (T columns centred on x = 0)
        self.boxes: list[TensorBox] = []

    # ---- boxes and sources ----------------------------------------------------------------

    def add(
        self,
        name: str,
        title: str,
        kind: Kind,
        rows: int,
        cols: int,
        row_axis: str,
        col_axis: str,
        x: float,
        y: float,
        group: str,
        heads_merged: int = 1,
        address: ValueSource | None = None,
        z: float | None = None,
    ) -> None:
        """One box for the table's tensor `name`, top-left-front corner (x, y, z) (z: the
        spine's front face unless given); address: where its numbers live when not the
        default (address_of)."""
        a = self.acts[name]
        address = address or self.address_of(a)
        axes = a.spec.letters()
        if heads_merged > 1 and a.spec.store == "trace":  # heads side by side (explain.py)
            axes = ("t", "h") if len(axes) == 1 else (axes[0], f"h·{axes[1]}")
        self.boxes.append(
            TensorBox(
                name=name,
                title=title,
                kind=kind,
                rows=rows,
                cols=cols,
                row_axis=row_axis,
                col_axis=col_axis,
                origin=(x, y, self.front if z is None else z),
                size=(cols * CELL, rows * CELL, self.depth),
                layer=a.layer,
                head=a.head,
                group=group,
                heads_merged=heads_merged,
                source=address if self.has_values(address) else None,
                op=a.op,
                inputs=a.reads,
                spec=a.spec.key,
                address=address,
                index_axes=axes,
            )
        )

    def address_of(
        self,
        a: A.Activation,
        transpose: bool = True,
        rows: tuple[int, int] | None = None,
        cols: tuple[int, int] | None = None,
        key: str | None = None,
    ) -> ValueSource:
        """Where a tensor's numbers are: activations [B, T, X] drawn as [X, T] ([B, T] as one
        row [1, T]); matrices as W^T unless transpose is off; vectors as one column."""
        spec = a.spec
        key = key or spec.key_of(a.layer, a.head)
        if spec.store == "param":
            ndim = len((spec.param or spec).axes)
            return ValueSource(
                "param", key, transpose=transpose and ndim == 2, rows=rows, cols=cols, ndim=ndim
            )
        batched = spec.axes[0] == "B"
        # a merged shell box stands for [T, H*X] (or [T, H]): two dimensions
        ndim = 2 if spec.scope == "head" and a.head is None else len(spec.axes) - batched
        return ValueSource(spec.store, key, transpose=True, batched=batched, ndim=ndim)

    def has_values(self, src: ValueSource) -> bool:
        if src.store == "param":
            return self.params is not None and src.key in self.params
        return self.trace is not None

    def linear_params(
        self,
        x_result: float,
        y: float,
        *,
        w_name: str,
        b_name: str,
        rows: int,
        n_in: int,
        row_axis: str,
        col_axis: str,
        title: str,
        group: str,
        out_range: tuple[int, int] | None = None,
        heads_merged: int = 1,
        z: float | None = None,
    ) -> None:
        """[W^T][b] ending one gap left of x_result, top row at y (rows aligned with the
        result), front face at z. W^T is the weight transposed (its out_range columns when
        given)."""
        x = x_result
        xb = None
        if self.cfg.bias:
            x = xb = x - self.g - CELL
        xw = x - self.g - n_in * CELL
        w = self.address_of(self.acts[w_name], cols=out_range)
        self.add(
            w_name,
            f"{title} weights",
            "weight",
            rows,
            n_in,
            row_axis,
            col_axis,
            xw,
            y,
            group,
            heads_merged,
            w,
            z,
        )
        if xb is not None:
            b = self.address_of(self.acts[b_name], rows=out_range)
            self.add(
                b_name,
                f"{title} bias",
                "weight",
                rows,
                1,
                row_axis,
                "1",
                xb,
                y,
                group,
                heads_merged,
                b,
                z,
            )

    def spine(
        self,
        spec: A.Spec,
        title: str,
        rows: int,
        row_axis: str,
        y: float,
        group: str,
        layer: int | None = None,
        kind: Kind = "intermediate",
    ) -> float:
        """The tensor `spec` as a [rows, T] box on the spine with its top at y; returns its
        bottom."""
        name = spec.name(layer)
        self.add(name, title, kind, rows, self.T, row_axis, "T", self.x0, y, group)
        return y - rows * CELL

    # ---- sections, top to bottom --------------------------------------------------------

    def embedding(self, y: float) -> float:
        C, V, P, g = self.cfg.n_embd, self.cfg.vocab_size, self.cfg.block_size, self.g
        grp = "embedding"
        y = self.spine(A.INPUT_TOKENS, "Input tokens", 1, "1", y, grp, kind="token")
        y -= g
        self.add(
            A.WTE.name(),
            "Token embedding weights (wte)",
            "weight",
            C,
            V,
            "C",
            "vocab",
            self.x0 - g - V * CELL,
            y,
            grp,
        )
        y = self.spine(A.TOK_EMB, "Token embeddings", C, "C", y, grp)
        y -= g
        self.add(
            A.WPE.name(),
            "Position embedding weights (wpe)",
            "weight",
            C,
            P,
            "C",
            "position",
            self.x0 - g - P * CELL,
            y,
            grp,
        )
        y = self.spine(A.POS_EMB, "Position embeddings", C, "C", y, grp)
        y -= g
        return self.spine(A.EMB, "Embedding (token + position)", C, "C", y, grp)

    def layer_norm(self, ln: A.LayerNorm, label: str, layer: int | None, group: str, y: float):
        C, g = self.cfg.n_embd, self.g
        for stat, title in ((ln.mean, "mean"), (ln.rstd, "rstd = 1/√(σ²+ε)")):  # one row each
            y = self.spine(stat, f"{label} · {title}", 1, "1", y, group, layer, kind="aggregate")
            y -= g
        x = self.x0
        placed = [(ln.weight, "gain")] + ([(ln.bias, "bias")] if self.cfg.bias else [])
        xs = {}
        for spec, _ in reversed(placed):
            x -= g + CELL
            xs[spec.key] = x
        for spec, word in placed:
            name = spec.name(layer)
            self.add(name, f"{label} · {word}", "weight", C, 1, "C", "1", xs[spec.key], y, group)
        return self.spine(ln.out, f"{label} · output", C, "C", y, group, layer)

    def attention(self, i: int, y: float) -> float:
        cfg, T, g = self.cfg, self.T, self.g
        C, H, D = cfg.n_embd, cfg.n_head, cfg.head_dim
        L = f"Layer {i + 1}"
        # (head, title prefix, rows of q/k/v/out, rows of scores, rows of max)
        units: list[tuple[int | None, str, int, int, int]]
        if self.merged:
            units = [(None, f"{L} · heads 1–{H}", H * D, H * T, H)]
            qkv_axis, s_axis, a_axis = "H·D", "H·T_k", "H"
        else:
            units = [(h, f"{L} · head {h + 1}", D, T, 1) for h in range(H)]
            qkv_axis, s_axis, a_axis = "D", "T_k", "1"
        n_merged = H if self.merged else 1
        dq, sk, ah = units[0][2], units[0][3], units[0][4]
        # vertical bands, shared by all heads
        y_q = y
        y_s = y_q - dq * CELL - g
        right = y_s - sk * CELL - g
        y_max = right
        y_exp = y_max - ah * CELL - g
        y_probs = y_exp - ah * CELL - g
        right = y_probs - sk * CELL - g
        left = y_s - dq * CELL - g
        y_o = min(right, left)
        # horizontal: the head column (q, scores ... out) one gap right of the spine; k and v
        # on the spine columns, directly under ln_1.out. Every head has the same x and y: head
        # n stands head_pitch behind head n - 1 (head 0 on the spine's front face).
        xh = self.x0 + T * CELL + g
        xkv = self.x0
        pitch = float(head_pitch(cfg)) * CELL
        # (weight, bias, result, title word, plural): q, k, v in c_attn's column order
        kinds = (
            (A.Q_WEIGHT, A.Q_BIAS, A.Q, "query", "queries"),
            (A.K_WEIGHT, A.K_BIAS, A.K, "key", "keys"),
            (A.V_WEIGHT, A.V_BIAS, A.V, "value", "values"),
        )
        # the head column below q: (tensor, title, kind, rows, row axis, top)
        head_column: tuple[tuple[A.Spec, str, Kind, int, str, float], ...] = (
            (A.SCORES, "attention scores (q·k/√D)", "intermediate", sk, s_axis, y_s),
            (A.SOFTMAX_MAX, "score max", "aggregate", ah, a_axis, y_max),
            (A.SOFTMAX_EXPSUM, "softmax denominator (exp-sum)", "aggregate", ah, a_axis, y_exp),
            (A.ATTN_PROBS, "attention weights (softmax)", "intermediate", sk, s_axis, y_probs),
            (A.HEAD_OUT, "output (weights · values)", "intermediate", dq, qkv_axis, y_o),
        )
        for n, (h, hl, _, _, _) in enumerate(units):
            z = self.front - n * pitch
            for part, (w_spec, b_spec, spec, word, plural) in enumerate(kinds):
                x_res, y_band = ((xh, y_q), (xkv, y_s), (xkv, y_o))[part]
                if h is None:
                    out_range = (part * C, (part + 1) * C)
                else:
                    out_range = (part * C + h * D, part * C + (h + 1) * D)
                self.linear_params(
                    x_res,
                    y_band,
                    w_name=w_spec.name(i, h),
                    b_name=b_spec.name(i, h),
                    rows=dq,
                    n_in=C,
                    row_axis=qkv_axis,
                    col_axis="C",
                    title=f"{hl} · {word}",
                    group="attention",
                    out_range=out_range,
                    heads_merged=n_merged,
                    z=z,
                )
                self.add(
                    spec.name(i, h),
                    f"{hl} · {plural}",
                    "intermediate",
                    dq,
                    T,
                    qkv_axis,
                    "T",
                    x_res,
                    y_band,
                    "attention",
                    n_merged,
                    z=z,
                )
            for spec, title, kind, rows, axis, y_top in head_column:
                self.add(
                    spec.name(i, h),
                    f"{hl} · {title}",
                    kind,
                    rows,
                    T,
                    axis,
                    "T",
                    xh,
                    y_top,
                    "attention",
                    n_merged,
                    z=z,
                )
        return y_o - dq * CELL

    def matmul(self, i: int, y: float, w: A.Spec, b: A.Spec, out: A.Spec, titles, group):
        """Weight^T and bias left of the spine, the product (trace `out`) on it; the classic
        layout: the weight row meets the input column at the output cell."""
        axis = {self.cfg.n_embd: "C", 4 * self.cfg.n_embd: "4C"}
        n_in, n_out = A.shape(self.acts[w.name(i)], self.cfg, 1, self.T)
        self.linear_params(
            self.x0,
            y,
            w_name=w.name(i),
            b_name=b.name(i),
            rows=n_out,
            n_in=n_in,
            row_axis=axis[n_out],
            col_axis=axis[n_in],
            title=titles[0],
            group=group,
        )
        return self.spine(out, titles[1], n_out, axis[n_out], y, group, i)

    def projection(self, i: int, y: float) -> float:
        C, L = self.cfg.n_embd, f"Layer {i + 1}"
        titles = (f"{L} · attention projection", f"{L} · attention output (projected)")
        w, b = A.ATTN_C_PROJ_WEIGHT, A.ATTN_C_PROJ_BIAS
        y = self.matmul(i, y, w, b, A.ATTN_PROJ, titles, "projection")
        y -= self.g
        return self.spine(
            A.ATTN_RESIDUAL, f"{L} · residual + attention", C, "C", y, "projection", i
        )

    def mlp(self, i: int, y: float) -> float:
        C, L, g = self.cfg.n_embd, f"Layer {i + 1}", self.g
        titles = (f"{L} · MLP up-projection", f"{L} · MLP hidden (pre-GELU)")
        y = self.matmul(i, y, A.C_FC_WEIGHT, A.C_FC_BIAS, A.MLP_FC, titles, "mlp") - g
        y = self.spine(A.MLP_GELU, f"{L} · MLP hidden (GELU)", 4 * C, "4C", y, "mlp", i)
        titles = (f"{L} · MLP down-projection", f"{L} · MLP output")
        w, b = A.MLP_C_PROJ_WEIGHT, A.MLP_C_PROJ_BIAS
        y = self.matmul(i, y - g, w, b, A.MLP_PROJ, titles, "mlp")
        return self.spine(A.MLP_RESIDUAL, f"{L} · residual + MLP", C, "C", y - g, "mlp", i)

    def output(self, y: float) -> float:
        cfg, g = self.cfg, self.g
        C, V = cfg.n_embd, cfg.vocab_size
        y = self.layer_norm(A.LN_F, "Final LN", None, "ln_f", y) - self.G
        lm = A.LM_HEAD.name()
        if self.params is not None and lm in self.params:
            key = lm
        else:  # tied: the unembedding is wte's storage
            key = A.WTE.name() if cfg.tie_word_embeddings else lm
        title = "Unembedding weights (lm_head" + (
            " = wte, tied)" if cfg.tie_word_embeddings else ")"
        )
        self.add(
            lm,
            title,
            "weight",
            V,
            C,
            "vocab",
            "C",
            self.x0 - g - C * CELL,
            y,
            "output",
            address=self.address_of(self.acts[lm], transpose=False, key=key),
        )
        y = self.spine(A.LOGITS, "Logits", V, "vocab", y, "output")
        y -= g
        y = self.spine(A.PROBS, "Next-token probabilities", V, "vocab", y, "output")
        y -= g
        return self.spine(
            A.OUTPUT_TOKENS, "Predicted next tokens", 1, "1", y, "output", kind="token"
        )

    def build(self) -> list[TensorBox]:
        y = self.embedding(0.0) - self.L
        for i in range(self.cfg.n_layer):
            L = f"Layer {i + 1}"
            y = self.layer_norm(A.LN_1, f"{L} · LN 1", i, "ln_1", y) - self.G
            y = self.attention(i, y) - self.G
            y = self.projection(i, y) - self.G
            y = self.layer_norm(A.LN_2, f"{L} · LN 2", i, "ln_2", y) - self.G
            y = self.mlp(i, y) - self.L
        self.output(y)
        return self.boxes


def build_scene(
    cfg: GPTConfig,
    trace: Any = None,
    params: Mapping[str, np.ndarray] | None = None,
    *,
    n_tokens: int | None = None,
) -> Scene:
    """Lay out every tensor of the model as a box.

    trace: a forward-pass Trace (batch row 0 is drawn); its sequence length sets T. Without a
    trace (a render-only shell) T = n_tokens or min(block_size, SHELL_MAX_TOKENS), and models
    with more than MERGE_HEADS_ABOVE heads get one merged box per head tensor kind.
    params: the weights; weight boxes get sources only when given.
    """
    if trace is not None:
        T = int(trace.tokens.shape[1])
        if n_tokens is not None and n_tokens != T:
            raise ValueError(f"n_tokens {n_tokens} disagrees with the trace's {T} tokens")
        if trace[A.EMB.name()].shape[-1] != cfg.n_embd:
            raise ValueError("the trace was not computed with this config")
    else:
        T = n_tokens if n_tokens is not None else min(cfg.block_size, SHELL_MAX_TOKENS)
    if not 1 <= T <= cfg.block_size:
        raise ValueError(f"n_tokens must be between 1 and {cfg.block_size}, got {T}")
    merged = trace is None and cfg.n_head > MERGE_HEADS_ABOVE
    boxes = _Builder(cfg, trace, params, T, merged).build()
    return Scene(
        config=cfg,
        boxes=tuple(boxes),
        cell=CELL,
        n_tokens=T,
        gap=float(gap_cells(cfg)) * CELL,
        heads_merged=cfg.n_head if merged else 1,
    )
