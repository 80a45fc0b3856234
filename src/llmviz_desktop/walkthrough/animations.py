"""The walkthrough's animations: each fills a WalkFrame from a step's progress p in 0..1, as a
pure function (the timeline calls ANIMATE[step.animation.kind])."""

from __future__ import annotations

import numpy as np

from ..model import activations as A
from ..model import sampling
from ..scene.drawing import Ghost, Highlight, Role, highlight
from ..scene.explain import explain
from .moment import ORDER_CODE, computed, expand_ordered, phase, reveal_sequence

# ---- animations: each fills the frame from progress p in 0..1 -------------------------------


def _none(frame, step, p, model) -> None:
    pass


def _reveal(frame, step, p, model) -> None:
    boxes = expand_ordered(model.scene, step.animation.get("tensors"))
    reveal_sequence(frame, boxes, p, ORDER_CODE[step.animation.get("order", "columns")])


def _column_reveal(frame, box: int, cols_done: float, n_cols: int) -> None:
    frame.reveal[box] = (min(cols_done / n_cols, 1.0), ORDER_CODE["columns"])


def _lookup(frame, step, p, model) -> None:
    """Token column of wte and column t of wpe fly into tok_emb / pos_emb, then both fly into
    emb and add; then every other position does the same at once."""
    scene, t = model.scene, frame.t
    idx = scene.index_of
    T = scene.n_tokens
    token = int(model.trace.tokens[0, t])
    tok, pos, emb = (idx[n] for n in scene.embedding_boxes())
    wte, wpe = idx[A.WTE.name()], idx[A.WPE.name()]
    a = phase(p, 0.0, 0.4)
    b = phase(p, 0.45, 0.8)
    c = phase(p, 0.85, 1.0)
    # columns before t are already done (revealed as 't of T'), column t animates
    for box in (tok, pos, emb):
        frame.reveal[box] = (t / T, ORDER_CODE["columns"])
    if a < 1:
        frame.ghosts += [
            Ghost(wte, token, tok, t, a),
            Ghost(wpe, t, pos, t, a),
        ]
    else:
        _column_reveal(frame, tok, t + 1, T)
        _column_reveal(frame, pos, t + 1, T)
    if 0 < b < 1:
        frame.ghosts += [Ghost(tok, t, emb, t, b), Ghost(pos, t, emb, t, b)]
    if b >= 1:
        _column_reveal(frame, emb, t + 1, T)
    if c > 0:
        for box in (tok, pos, emb):
            frame.reveal[box] = (max(frame.reveal[box][0], (t + 1 + c * (T - t - 1)) / T), 0)
    frame.highlight |= {wte, wpe}
    frame.cells.append(Highlight(wte, Role.SOURCE, -1, -1, token, token + 1))
    frame.cells.append(Highlight(wpe, Role.SOURCE, -1, -1, t, t + 1))
    vocab = model.config.vocab
    letter = vocab[token] if vocab else str(token)
    frame.caption.append(
        f"position t = {t}: token {letter!r} (id {token}) -> column {token} of wte"
    )


def _dot(frame, step, p, model) -> None:
    """One output value term by term: the k-th input x weight pair lit in turn with the
    running sum (first 65%), then the bias, then the value appears; then the whole tensor."""
    scene, trace, params = model.scene, model.trace, model.params
    idx = scene.index_of
    name = step.animation.get("tensor")
    box_k = idx[name]
    box = scene.boxes[box_k]
    cell_i, cell_j = step.animation.get("cell")
    i, j = min(cell_i, box.rows - 1), min(cell_j, box.cols - 1)
    ex = explain(scene, name, i, j, trace, params)
    sources = [s for s in ex.sources if s.box in idx]
    # the input is one column (rows free) or several stacked (the heads' outputs side by
    # side), the weight a row (cols free), the bias a single cell
    inputs = [s for s in sources if s.rows is None and s.cols is not None]
    in_cols = [s.cols for s in inputs if s.cols is not None]  # (typed: every input has cols)
    wgt = next(
        (s for s in sources if s.cols is None and s.rows is not None and s.role != "bias"), None
    )
    bias = next((s for s in sources if s.role == "bias"), None)
    n = max(ex.n_terms, 1)
    cells = ORDER_CODE["cells"]
    own = (i * box.cols + j + 1) / (box.rows * box.cols)  # row-major: cells up to (i, j)
    before = (i * box.cols + j) / (box.rows * box.cols)
    frame.reveal[box_k] = (before, cells)
    frame.highlight.add(box_k)
    if p < 0.65 and inputs and wgt is not None and wgt.rows:
        k = min(int(phase(p, 0.0, 0.65) * n), n - 1)
        row = wgt.rows[0]
        columns = [
            scene.boxes[idx[s.box]].source.matrix(trace, params)[:, c[0]]
            for s, c in zip(inputs, in_cols, strict=True)
        ]
        x_col = np.concatenate(columns).astype(np.float64)  # the input vector of length n
        w_row = scene.boxes[idx[wgt.box]].source.matrix(trace, params)[row].astype(np.float64)
        offset = 0
        for s, c, cols in zip(inputs, columns, in_cols, strict=True):  # which box holds term k
            if k < offset + len(c):
                frame.cells.append(
                    Highlight(idx[s.box], Role.SOURCE, k - offset, k - offset + 1, *cols)
                )
                break
            offset += len(c)
        frame.cells.append(Highlight(idx[wgt.box], Role.SOURCE, row, row + 1, k, k + 1))
        frame.caption += [
            f"term k = {k} of {n}:  {x_col[k]:.4g} × {w_row[k]:.4g} = {x_col[k] * w_row[k]:.4g}",
            f"running sum of {k + 1} terms = {float(x_col[: k + 1] @ w_row[: k + 1]):.4g}",
        ]
        return
    frame.cells += [highlight(idx[s.box], Role.SOURCE, s.rows, s.cols) for s in sources]
    frame.caption += list(ex.lines)
    if p < 0.8 and bias is not None:
        frame.caption.append("... plus the bias")
        return
    frame.cells.append(Highlight(box_k, Role.CELL, i, i + 1, j, j + 1))
    frame.reveal[box_k] = (max(own, phase(p, 0.85, 1.0)), cells)


def _softmax(frame, step, p, model) -> None:
    scene, t = model.scene, frame.t
    names = scene.softmax_boxes(step.animation.get("tensor"))  # scores, max, expsum, probs
    idx = scene.index_of
    T = scene.n_tokens
    parts = [idx[n] for n in names]
    spans = [(0.0, 0.25), (0.3, 0.45), (0.5, 0.65), (0.7, 0.85)]
    for box, (a, b) in zip(parts, spans, strict=True):
        frame.reveal[box] = ((t + phase(p, a, b)) / T, ORDER_CODE["columns"])
    if p >= 0.9:
        for box in parts:
            frame.reveal[box] = ((t + 1 + phase(p, 0.9, 1.0) * (T - t - 1)) / T, 0)
    s_box = scene.boxes[parts[0]]
    rows = s_box.rows
    frame.cells.append(Highlight(parts[0], Role.LINE, -1, -1, t, t + 1))
    if 0.25 <= p < 0.5 and t + 1 < rows:  # the masked (future) keys of this query
        frame.cells.append(Highlight(parts[0], Role.SOURCE, t + 1, rows, t, t + 1))
    trace = model.trace
    _, smax, expsum, probs = names
    frame.caption += [
        f"query t = {t} sees keys 0..{t}; keys {t + 1}..{T - 1} are masked (-inf)",
        f"max = {float(trace[smax][0, t]):.4g}, "
        f"sum of exp(s - max) = {float(trace[expsum][0, t]):.4g}",
        "probabilities: " + ", ".join(f"{v:.3f}" for v in trace[probs][0, t, : t + 1]),
    ]


def _layernorm(frame, step, p, model) -> None:
    scene, t = model.scene, frame.t
    prefix = step.animation.get("prefix")
    ln = scene.layer_norm_boxes(prefix)
    if ln is None:
        raise KeyError(prefix)
    idx = scene.index_of
    T = scene.n_tokens
    parts = [idx[ln[n]] for n in ("mean", "rstd", "out")]
    spans = [(0.0, 0.2), (0.25, 0.45), (0.5, 0.75)]
    for box, (a, b) in zip(parts, spans, strict=True):
        frame.reveal[box] = ((t + phase(p, a, b)) / T, ORDER_CODE["columns"])
    if p >= 0.8:
        for box in parts:
            frame.reveal[box] = ((t + 1 + phase(p, 0.8, 1.0) * (T - t - 1)) / T, 0)
    for name in (ln[n] for n in ("weight", "bias") if n in ln):
        if name in idx and 0.5 <= p < 0.8:
            frame.cells.append(Highlight(idx[name], Role.SOURCE, -1, -1, -1, -1))
    trace = model.trace
    mu, rstd = float(trace[ln["mean"]][0, t]), float(trace[ln["rstd"]][0, t])
    eps = model.config.layer_norm_epsilon
    frame.caption += [  # each number named by what it is: rstd includes ε, it is not 1/std
        f"column t = {t}: mean μ = {mu:.4g}, rstd = 1/√(σ² + ε) = {rstd:.4g} "
        f"(√(σ² + ε) = {1 / rstd:.4g}, ε = {eps:g})",
        "normalised z = (x − μ)·rstd, then scaled by γ and shifted by β, per channel",
    ]


def _stack(frame, step, p, model) -> None:
    boxes = [k for k in range(len(model.scene.boxes)) if computed(model.scene, k)]
    reveal_sequence(frame, boxes, p, ORDER_CODE["columns"])


def _sample(frame, step, p, model) -> None:
    scene, t, trace = model.scene, frame.t, model.trace
    idx = scene.index_of
    probs = sampling.distribution(model, t)
    vocab = model.config.vocab or tuple(str(v) for v in range(len(probs)))
    frame.bars = [(vocab[v], float(probs[v])) for v in range(len(probs))]
    frame.cells.append(Highlight(idx[A.PROBS.name()], Role.SOURCE, -1, -1, t, t + 1))
    frame.cells.append(Highlight(idx[A.OUTPUT_TOKENS.name()], Role.CELL, -1, -1, t, t + 1))
    chosen = int(np.argmax(trace[A.PROBS.name()][0, t]))
    s = getattr(model, "sampling", sampling.Sampling())
    n_input = len(model.input_text) if model.input_text else scene.n_tokens
    g = t - (n_input - 1)  # which generated token position t chose (the input's own are fed)
    if not s.greedy and model.config.vocab and 0 <= g < len(model.output_text):
        chosen = vocab.index(model.output_text[g])
        k = f"top-k = {s.top_k}" if s.top_k else "top-k = all"
        how = f"sampled (T = {s.temperature:g}, {k}, seed {s.seed})"
    else:
        how = "greedy choice"
    frame.caption.append(f"{how} at t = {t}: {vocab[chosen]!r} (p = {probs[chosen]:.4f})")


def _autoregressive(frame, step, p, model) -> None:
    """Token by token: the model runs on the prefix (a wave down the model through the new
    column), the chosen token is lit, then flies into the next input slot."""
    scene = model.scene
    T = scene.n_tokens
    n_input = len(model.input_text) if model.input_text else T
    n_new = T - n_input + 1  # predictions made at positions n_input-1 .. T-1
    idx = scene.index_of
    g = min(int(p * n_new), n_new - 1)  # which generation step
    q = p * n_new - g  # progress within it
    col = n_input - 1 + g  # the column being computed
    done = [k for k in range(len(scene.boxes)) if computed(scene, k)]
    wave = phase(q, 0.0, 0.6)
    n = len(done)
    for r, k in enumerate(done):
        frame.reveal[k] = ((col + float(np.clip((wave - r / n) * n, 0, 1))) / T, 0)
    inp, out = idx[A.INPUT_TOKENS.name()], idx[A.OUTPUT_TOKENS.name()]
    frame.reveal[inp] = (min(col + 1, T) / T, 0)
    frame.reveal[out] = ((col + (1.0 if q >= 0.6 else 0.0)) / T, 0)
    if q >= 0.6:
        frame.cells.append(Highlight(out, Role.CELL, -1, -1, col, col + 1))
    if q >= 0.8 and col + 1 < T:
        frame.ghosts.append(Ghost(out, col, inp, col + 1, phase(q, 0.8, 1.0)))
    if p >= 1.0:
        for k in done + [inp, out]:
            frame.reveal.pop(k, None)
    vocab = model.config.vocab
    tokens = model.trace.tokens[0]
    pred = int(np.argmax(model.trace[A.PROBS.name()][0, col]))
    letter = vocab[pred] if vocab else str(pred)
    prefix = "".join(vocab[int(v)] for v in tokens[: col + 1]) if vocab else ""
    frame.caption += [
        f"step {g + 1} of {n_new}: the model reads {prefix!r} and predicts {letter!r} at t = {col}",
        f"answer so far: {model.output_text[: g + (1 if q >= 0.6 else 0)]!r}",
    ]
    frame.t = col


ANIMATE = {
    "none": _none,
    "reveal": _reveal,
    "lookup": _lookup,
    "dot": _dot,
    "softmax": _softmax,
    "layernorm": _layernorm,
    "stack": _stack,
    "sample": _sample,
    "autoregressive": _autoregressive,
}
