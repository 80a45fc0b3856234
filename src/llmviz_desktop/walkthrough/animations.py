"""The walkthrough's animations: each fills a WalkFrame from a step's progress p in 0..1, as a
pure function (the timeline calls ANIMATE[step.animation.kind])."""

from __future__ import annotations

import numpy as np

from ..model import activations as A
from ..model import lens, sampling
from ..model.generate import next_token_distribution
from ..scene.camera import fly
from ..scene.drawing import Ghost, Highlight, Note, Role, Stroke, Tile, highlight
from ..scene.explain import explain
from .moment import ORDER_CODE, computed, expand, expand_ordered, phase, reveal_sequence

# ---- animations: each fills the frame from progress p in 0..1 -------------------------------


def _none(frame, step, p, model) -> None:
    pass


def _reveal(frame, step, p, model) -> None:
    boxes = expand_ordered(model.scene, step.animation.get("tensors"))
    reveal_sequence(frame, boxes, p, ORDER_CODE[step.animation.get("order", "columns")])
    numbers = step.animation.get("numbers")
    if numbers:
        for k in boxes:
            _column_numbers(frame, model, k, numbers)


def _column_numbers(frame, model, k: int, numbers: str) -> None:
    """Under each computed column of a token row: its position, or its token id (what
    hovering would tell, written for every slot at once)."""
    box = model.scene.boxes[k]
    done = int(frame.reveal.get(k, (1.0, 0))[0] * box.cols + 1e-6)
    ids = model.trace.tokens[0] if model.trace is not None else ()
    for j in range(min(done, box.cols)):
        text = str(j) if numbers == "positions" else str(int(ids[j])) if j < len(ids) else ""
        if text:
            frame.notes.append(
                Note(text, offset(box.cell_center(box.rows - 1, j), dy=-0.5), "below", 12.0)
            )


def then_every_column(frame, box: int, t: int, T: int, u: float) -> None:
    """After column t has been worked through, the other columns follow at once: by u = 1
    all T columns are computed."""
    frame.reveal[box] = ((t + 1 + u * (T - t - 1)) / T, ORDER_CODE["columns"])


def _column_reveal(frame, box: int, cols_done: float, n_cols: int) -> None:
    frame.reveal[box] = (min(cols_done / n_cols, 1.0), ORDER_CODE["columns"])


LOOKUP_DIRECTION = (-32.0, 12.0)  # yaw, pitch of the embedding lookup's view


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
    boxes = scene.boxes
    if a < 1:
        frame.notes.append(Note(f"{letter} = id {token}", column_top(boxes[wte], token), "above"))
        frame.notes.append(Note(f"position {t}", column_top(boxes[wpe], t), "above"))
    if 0.3 <= p < 0.85:
        frame.notes.append(Note("+", column_top(boxes[emb], t, dy=1.0), "centre", 22.0, True))
    if b >= 1:
        e = float(boxes[emb].source.matrix(model.trace, model.params)[0, t])
        tk = float(boxes[tok].source.matrix(model.trace, model.params)[0, t])
        ps = float(boxes[pos].source.matrix(model.trace, model.params)[0, t])
        text = f"{fmt(tk)} + {fmt(ps)} = {fmt(e)}"
        frame.notes.append(Note(text, boxes[emb].cell_center(0, t), "right", strong=True))
        frame.caption.append(
            f"row 0 of column {t}: token {fmt(tk)} + position {fmt(ps)} = {fmt(e)}"
        )
    frame.caption.append(
        f"position t = {t}: token {letter!r} (id {token}) -> column {token} of wte"
    )
    # from the side, so the columns flying out of the tables (toward the viewer) read
    parts = [boxes[k] for k in (wte, wpe, tok, pos, emb)]
    lo = np.min([b.min_corner for b in parts], axis=0)
    hi = np.max([b.max_corner for b in parts], axis=0)
    look_at(frame, lo, hi, phase(p, 0.0, 0.12), margin=1.1, direction=LOOKUP_DIRECTION)


def fmt(v: float) -> str:
    """A number as the scene writes it: 4 significant digits."""
    return f"{v:.4g}"


def ease(u: float) -> float:
    u = float(np.clip(u, 0.0, 1.0))
    return u * u * (3.0 - 2.0 * u)


def between(a, b, u: float, lift: float = 0.0) -> tuple[float, float, float]:
    """The point a fraction u (eased) from a to b, arcing `lift` toward the viewer."""
    e = ease(u)
    a, b = np.asarray(a, float), np.asarray(b, float)
    p = a + (b - a) * e + (0.0, 0.0, lift * np.sin(np.pi * e))
    return (float(p[0]), float(p[1]), float(p[2]))


def offset(p, dx: float = 0.0, dy: float = 0.0, dz: float = 0.0) -> tuple[float, float, float]:
    return (float(p[0] + dx), float(p[1] + dy), float(p[2] + dz))


DOT_SPANS = {  # the parts of a dot-product step, as fractions of its progress
    "lift": (0.0, 0.2),  # the input column flies out and lies along the weight row
    "terms": (0.2, 0.6),  # each product appears between them, the running sum grows
    "gather": (0.6, 0.7),  # the products gather into one sum
    "bias": (0.7, 0.8),  # the bias joins it
    "drop": (0.8, 0.9),  # the result drops into its cell of the output
}


def look_at(frame, lo, hi, u: float, margin: float = 1.15, direction=None) -> None:
    """Turn the camera a fraction u (eased) from the step's camera toward one framing the
    world bounds lo..hi from the same direction, or from `direction` (yaw, pitch) (the
    camera follows the action)."""
    if frame.framing is None or frame.step_camera is None or u <= 0:
        return
    base = frame.step_camera
    yaw, pitch = direction if direction is not None else (base.yaw, base.pitch)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    close = frame.framing.boxes(lo, hi, yaw, pitch, margin)
    frame.camera = fly(frame.camera, close, ease(u))


STRIP_INPUT_DY, STRIP_PRODUCT_DY = 3.2, 1.7  # cells above the weight row: inputs, products
SPOTLIGHT_ALPHA = 0.22  # the other boxes while an operation is worked through in close-up
FOLLOW_CELLS = 7  # the close-up on the products: this many cells either side of the term


def _follow_dot(frame, p, w_box, row, n, k, sum_at, y_at) -> None:
    """The camera of a dot product: the operands (the step's camera) while the input lifts
    out, then close along the weight row with the term being multiplied, then on the sum, the
    bias and the output cell, and back to the operands at the end of the step."""
    terms, end = DOT_SPANS["terms"], DOT_SPANS["drop"][1]
    top = np.asarray(w_box.cell_center(row, 0)) + (0.0, STRIP_INPUT_DY + 1.5, 0.0)
    bottom = np.asarray(w_box.cell_center(row, 0)) - (0.0, 1.0, 0.0)
    if p < terms[1]:
        c = float(np.clip(k, FOLLOW_CELLS, max(n - FOLLOW_CELLS, FOLLOW_CELLS)))
        x0 = np.asarray(w_box.cell_center(row, 0))[0] + c - FOLLOW_CELLS
        lo = (x0, bottom[1], bottom[2])
        hi = (x0 + 2 * FOLLOW_CELLS, top[1], top[2] + 2.0)
        look_at(frame, lo, hi, phase(p, terms[0] - 0.05, terms[0] + 0.05))
        return
    x_end = np.asarray(w_box.cell_center(row, n - 1))
    lo = np.minimum(np.minimum(x_end - (2 * FOLLOW_CELLS, 1.0, 0), sum_at), y_at) - 1.0
    hi = np.maximum(np.maximum(x_end + (0, 3.0, 2.0), sum_at), y_at) + 1.0
    look_at(frame, lo, hi, 1.0 - phase(p, end, end + 0.06))


def _dot(frame, step, p, model) -> None:
    """One output value of a matrix multiply, in 3D where the learner looks: the input column
    lifts out and lies along the weight row, each product appears between the two with the
    running sum written beside the row, the products gather into one sum, the bias joins, and
    the result drops into its cell of the output; then the rest of the tensor fills in. The
    side panel's caption says the same numbers at the same moment."""
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
    wgt = next(
        (s for s in sources if s.cols is None and s.rows is not None and s.role != "bias"), None
    )
    bias = next((s for s in sources if s.role == "bias"), None)
    cells = ORDER_CODE["cells"]
    own = (i * box.cols + j + 1) / (box.rows * box.cols)  # row-major: cells up to (i, j)
    before = (i * box.cols + j) / (box.rows * box.cols)
    frame.reveal[box_k] = (before, cells)
    frame.highlight.add(box_k)
    if not inputs or wgt is None or not wgt.rows:  # not a plain x @ W (+ b): no 3D sum
        frame.cells += [highlight(idx[s.box], Role.SOURCE, s.rows, s.cols) for s in sources]
        frame.caption += list(ex.lines)
        frame.reveal[box_k] = (max(own, phase(p, 0.85, 1.0)), cells)
        return

    # the operands, as drawn: where each input value sits, the weight row, the bias
    row = wgt.rows[0]
    w_k = idx[wgt.box]
    w_box = scene.boxes[w_k]
    w_row = w_box.source.matrix(trace, params)[row].astype(np.float64)
    x_at, x_val, x_like = [], [], []
    for s in inputs:
        k_in = idx[s.box]
        b_in = scene.boxes[k_in]
        col = s.cols[0] if s.cols is not None else 0
        values = b_in.source.matrix(trace, params)[:, col].astype(np.float64)
        x_at += [b_in.cell_center(r, col) for r in range(b_in.rows)]
        x_val += list(values)
        x_like += [k_in] * b_in.rows
    n = min(len(x_val), len(w_row))
    x = np.array(x_val[:n])
    prods = x * w_row[:n]
    partial = np.cumsum(prods)
    b_val, b_at, b_k = 0.0, None, box_k
    if bias is not None and bias.rows is not None:
        b_k = idx[bias.box]
        b_box = scene.boxes[b_k]
        b_val = float(b_box.source.matrix(trace, params)[bias.rows[0], 0])
        b_at = b_box.cell_center(bias.rows[0], 0)
    result = float(partial[-1] + b_val)
    y_at = box.cell_center(i, j)

    # the work strip floats just in front of the weight row: the input copy two cells above
    # the row, the products one cell above it (between the two factors)
    depth = float(w_box.size[2])
    front = 1.0 + 0.25 * depth
    w_at = [w_box.cell_center(row, k) for k in range(n)]
    x_slot = [offset(a, dy=STRIP_INPUT_DY, dz=front) for a in w_at]
    p_slot = [offset(a, dy=STRIP_PRODUCT_DY, dz=front) for a in w_at]
    right_end = offset(w_box.cell_center(row, n - 1), dx=1.0, dy=STRIP_PRODUCT_DY, dz=front)
    sum_at = offset(b_at, dy=STRIP_PRODUCT_DY, dz=front) if b_at is not None else right_end
    # the products' own colour scale: a typical product at about half colour (a few large
    # ones would leave the rest near black)
    p_norm = 1.0 / max(2.5 * float(np.abs(prods).mean()), 1e-12)

    lift = phase(p, *DOT_SPANS["lift"])
    terms = phase(p, *DOT_SPANS["terms"])
    gather = phase(p, *DOT_SPANS["gather"])
    join = phase(p, *DOT_SPANS["bias"])
    drop = phase(p, *DOT_SPANS["drop"])
    k_now = min(int(terms * n), n - 1)  # the term being multiplied
    done = int(terms * n) if terms < 1 else n  # products that have appeared

    frame.cells.append(Highlight(w_k, Role.SOURCE, row, row + 1, -1, -1))
    for s in inputs:
        frame.cells.append(highlight(idx[s.box], Role.SOURCE, None, s.cols))
    if bias is not None:
        frame.cells.append(highlight(idx[bias.box], Role.SOURCE, bias.rows, bias.cols))

    if gather <= 0:  # the input copy: lifting out, then lying along the row
        for k in range(n):
            u = phase(lift, 0.5 * k / n, 0.5 * k / n + 0.5)  # a column pouring into a row
            frame.tiles.append(Tile(between(x_at[k], x_slot[k], u, lift=2.0), x[k], x_like[k]))
    if lift >= 1 and gather <= 0:  # the products appear one by one
        for k in range(done):
            frame.tiles.append(Tile(p_slot[k], prods[k], box_k, kind=2, norm=p_norm))
        if terms < 1:
            frame.tiles.append(
                Tile(p_slot[k_now], prods[k_now], box_k, kind=2, norm=p_norm, lit=True)
            )
            frame.cells.append(Highlight(w_k, Role.CELL, row, row + 1, k_now, k_now + 1))
            frame.notes.append(
                Note(
                    f"{fmt(x[k_now])} × {fmt(w_row[k_now])} = {fmt(prods[k_now])}",
                    offset(x_slot[k_now], dy=0.6),
                    "above",
                )
            )
        shown = partial[done - 1] if done else 0.0
        under = offset(w_at[k_now], dy=-1.0, dz=front)  # under the row, with the term
        frame.notes.append(Note(f"Σ of {done} = {fmt(shown)}", under, "below", strong=True))
    if 0 < gather and join <= 0:  # the products gather into one sum
        for k in range(n):
            u = phase(gather, 0.4 * k / n, 0.4 * k / n + 0.6)
            frame.tiles.append(
                Tile(between(p_slot[k], sum_at, u, lift=1.0), prods[k], box_k, kind=2, norm=p_norm)
            )
    if gather >= 1 and drop <= 0:
        total = float(partial[-1]) + (b_val * ease(join) if b_at is not None else 0.0)
        frame.tiles.append(Tile(sum_at, total, box_k, size=(1.6, 1.6, 1.6), lit=True))
        if b_at is not None and 0 < join < 1:
            frame.tiles.append(Tile(between(b_at, sum_at, join, lift=1.5), b_val, b_k))
        text = f"Σ = {fmt(partial[-1])}"
        if b_at is not None and join > 0:
            text += f"  + b {fmt(b_val)} = {fmt(result)}"
        frame.notes.append(Note(text, offset(sum_at, dy=1.0), "above", strong=True))
    if 0 < drop < 1:
        frame.tiles.append(
            Tile(
                between(sum_at, y_at, drop, lift=1.0), result, box_k, size=(1.3, 1.3, 1.3), lit=True
            )
        )
    if drop >= 1:
        frame.cells.append(Highlight(box_k, Role.CELL, i, i + 1, j, j + 1))
        frame.reveal[box_k] = (max(own, phase(p, 0.92, 1.0)), cells)
        frame.notes.append(Note(f"= {fmt(result)}", y_at, "right", strong=True))

    if p < DOT_SPANS["drop"][1]:  # a spotlight: everything but the operands steps back
        keep = {box_k, w_k, b_k, *x_like}
        for k in range(len(scene.boxes)):
            if k not in keep:
                frame.alpha[k] = min(frame.alpha.get(k, 1.0), SPOTLIGHT_ALPHA)
    _follow_dot(frame, p, w_box, row, n, k_now + terms * n - int(terms * n), sum_at, y_at)

    # the side panel says the same, at the same moment
    if lift < 1:
        frame.caption.append(f"the input column (t = {j}) lies down along row {row} of the weights")
    elif terms < 1:
        term = f"{fmt(x[k_now])} × {fmt(w_row[k_now])} = {fmt(prods[k_now])}"
        frame.caption += [
            f"term k = {k_now} of {n}:  {term}",
            f"running sum of {done} terms = {fmt(partial[done - 1] if done else 0.0)}",
        ]
    else:
        frame.caption.append(f"sum of the {n} products = {fmt(partial[-1])}")
        if b_at is not None and join > 0:
            frame.caption.append(f"plus the bias {fmt(b_val)} = {fmt(result)}")
        if drop >= 1:
            frame.caption.append(f"{box.title}[{i}, {j}] = {fmt(result)}")


def gather(frame, starts, values, like: int, dest, u: float, **tile) -> None:
    """Tiles with `values` leave `starts` one shortly after another and converge on `dest`
    (an aggregate being computed from a column: a max, a sum, a mean)."""
    n = len(starts)
    for k, (a, v) in enumerate(zip(starts, values, strict=True)):
        w = phase(u, 0.4 * k / max(n, 1), 0.4 * k / max(n, 1) + 0.6)
        if 0 < w < 1:
            frame.tiles.append(Tile(between(a, dest, w, lift=2.0), float(v), like, **tile))


def _softmax(frame, step, p, model) -> None:
    """One query's column of scores: computed, its future keys masked, the scores gathering
    into their max, then e^(s - max) gathering into the sum, then the weights appearing as
    the division; each aggregate's number written beside it."""
    scene, t = model.scene, frame.t
    names = scene.softmax_boxes(step.animation.get("tensor"))  # scores, max, expsum, probs
    idx = scene.index_of
    T = scene.n_tokens
    parts = [idx[n] for n in names]
    spans = [(0.0, 0.2), (0.3, 0.45), (0.5, 0.65), (0.7, 0.85)]
    for box, (a, b) in zip(parts, spans, strict=True):
        frame.reveal[box] = ((t + phase(p, a, b)) / T, ORDER_CODE["columns"])
    if p >= 0.9:
        for box in parts:
            then_every_column(frame, box, t, T, phase(p, 0.9, 1.0))
    s_box, m_box, e_box, p_box = (scene.boxes[k] for k in parts)
    rows = s_box.rows
    frame.cells.append(Highlight(parts[0], Role.LINE, -1, -1, t, t + 1))
    trace = model.trace
    _, smax, expsum, probs = names
    scores = s_box.source.matrix(trace, model.params)[:, t].astype(np.float64)
    mx, total = float(trace[smax][0, t]), float(trace[expsum][0, t])
    weights = trace[probs][0, t, : t + 1].astype(np.float64)
    seen = list(range(t + 1))  # the keys this query may see
    if 0.2 <= p < 0.5 and t + 1 < rows:  # the masked (future) keys of this query
        frame.cells.append(Highlight(parts[0], Role.SOURCE, t + 1, rows, t, t + 1))
        frame.notes.append(Note("future: −∞", s_box.cell_center(min(t + 2, rows - 1), t), "right"))
    starts = [s_box.cell_center(k, t) for k in seen]
    if 0.3 <= p < 0.5:
        gather(frame, starts, scores[seen], parts[0], m_box.cell_center(0, t), phase(p, 0.3, 0.45))
    if p >= 0.42:
        frame.notes.append(Note(f"max {fmt(mx)}", m_box.cell_center(0, t), "right", 13.0))
    if 0.5 <= p < 0.7:
        exps = np.exp(scores[seen] - mx)
        at = e_box.cell_center(0, t)
        gather(frame, starts, exps, parts[2], at, phase(p, 0.5, 0.65), kind=2, norm=1.0)
    if p >= 0.62:
        note = f"Σ e^(s−max) {fmt(total)}"
        frame.notes.append(Note(note, e_box.cell_center(0, t), "right", 13.0))
    if p >= 0.7:
        top = int(np.argmax(weights))
        frame.cells.append(Highlight(parts[3], Role.CELL, top, top + 1, t, t + 1))
        text = f"÷ Σ: key {top} gets {weights[top]:.3f}"
        frame.notes.append(Note(text, p_box.cell_center(top, t), "right", strong=True))
    frame.caption += [
        f"query t = {t} sees keys 0..{t}; keys {t + 1}..{T - 1} are masked (-inf)",
        f"max = {mx:.4g}, sum of exp(s - max) = {total:.4g}",
        "probabilities: " + ", ".join(f"{v:.3f}" for v in weights),
    ]


LN_CONTEXT_CELLS = 8.0  # the layer norm's close-up: this much of the columns above and below


def _layernorm(frame, step, p, model) -> None:
    """Column t of the stream: its values gather into the mean, their squared distances
    from it into rstd, then the normalised, scaled and shifted column appears; each number
    written beside its cell."""
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
            then_every_column(frame, box, t, T, phase(p, 0.8, 1.0))
    for name in (ln[n] for n in ("weight", "bias") if n in ln):
        if name in idx and 0.5 <= p < 0.8:
            frame.cells.append(Highlight(idx[name], Role.SOURCE, -1, -1, -1, -1))
    trace = model.trace
    mu, rstd = float(trace[ln["mean"]][0, t]), float(trace[ln["rstd"]][0, t])
    eps = model.config.layer_norm_epsilon
    mean_box, rstd_box, out_box = (scene.boxes[k] for k in parts)
    src = [s for s in _operands(scene, ln["mean"], 0, t, model) if s.cols is not None]
    if src:
        x_k = idx[src[0].box]
        x_box = scene.boxes[x_k]
        x = x_box.source.matrix(trace, model.params)[:, t].astype(np.float64)
        starts = [x_box.cell_center(r, t) for r in range(x_box.rows)]
        frame.cells.append(Highlight(x_k, Role.SOURCE, -1, -1, t, t + 1))
        if p < 0.22:
            gather(frame, starts, x, x_k, mean_box.cell_center(0, t), phase(p, 0.0, 0.2))
        if 0.25 <= p < 0.47:
            sq = (x - mu) ** 2
            at = rstd_box.cell_center(0, t)
            gather(frame, starts, sq, parts[1], at, phase(p, 0.25, 0.45), kind=2)
        # close on the two statistics rows, with the bottom of the column they gather from
        # above them and the top of the normalised column below
        lo = np.asarray(rstd_box.min_corner, float) - (4.0, LN_CONTEXT_CELLS, 0.0)
        hi = np.asarray(mean_box.max_corner, float) + (4.0, LN_CONTEXT_CELLS, 0.0)
        look_at(frame, lo, hi, phase(p, 0.0, 0.1) - phase(p, 0.5, 0.6), margin=1.05)
    if p >= 0.15:
        frame.notes.append(Note(f"μ {fmt(mu)}", mean_box.cell_center(0, t), "right", 13.0))
    if p >= 0.4:
        frame.notes.append(Note(f"rstd {fmt(rstd)}", rstd_box.cell_center(0, t), "right", 13.0))
    if 0.5 <= p < 0.8:
        z = out_box.cell_center(0, t)
        frame.notes.append(Note("(x − μ)·rstd·γ + β", z, "right", strong=True))
    frame.caption += [  # each number named by what it is: rstd includes ε, it is not 1/std
        f"column t = {t}: mean μ = {mu:.4g}, rstd = 1/√(σ² + ε) = {rstd:.4g} "
        f"(√(σ² + ε) = {1 / rstd:.4g}, ε = {eps:g})",
        "normalised z = (x − μ)·rstd, then scaled by γ and shifted by β, per channel",
    ]


def _stack(frame, step, p, model) -> None:
    """Every computed tensor in turn, top to bottom; the one being computed is named beside
    it, so the pass can be followed even in a view of the whole model."""
    scene = model.scene
    boxes = [k for k in range(len(scene.boxes)) if computed(scene, k)]
    reveal_sequence(frame, boxes, p, ORDER_CODE["columns"])
    if boxes and p < 1.0:
        box = scene.boxes[boxes[min(int(p * len(boxes)), len(boxes) - 1)]]
        at = (box.max_corner[0], box.center[1], box.origin[2])
        frame.notes.append(Note(f"now: {box.title}", at, "right", 14.0, strong=True))


BAR_CELLS = 16.0  # a probability of 1 is at most this many cells long
MAX_BARS = 8


def bars_in_scene(frame, scene, anchor: int, t: int, probs, vocab, labels=None) -> dict:
    """The next-token distribution as bars standing out to the right of `anchor` (the
    probabilities box, one row per token; or the stream a logit lens reads), level with
    column t's rows, each labelled with its token and probability (`labels`: the numbers
    written, when the bars are still growing toward them). The bars' ends, by token."""
    labels = probs if labels is None else labels
    ends = {}
    box = scene.boxes[anchor]
    x0 = box.max_corner[0] + 3.0  # clear of the row letters and the flow's '+'
    # beside a wide flat box (the probabilities) short, so the box stays the subject of the
    # view; beside a tall one (a stream) as long as fits its height
    full = min(BAR_CELLS, max(0.6 * float(box.size[0]), 0.3 * float(box.size[1])))
    lines = min(len(probs), MAX_BARS)
    order = np.argsort(-np.asarray(probs))[:lines] if len(probs) > lines else range(lines)
    own_rows = anchor == scene.index_of.get(A.PROBS.name()) and box.rows == len(probs)
    # one row of the probabilities each; beside a tall stream, thicker bars stacked at its
    # middle (a one-cell bar beside a 48-cell column reads as a line)
    thick = 1.0 if own_rows else max(1.0, min(3.0, float(box.size[1]) / 20.0))
    pitch = 1.6 * thick
    mid = box.origin[1] - box.size[1] / 2 + pitch * lines / 2
    z = box.origin[2] + 0.5
    size = 13.0 if own_rows else 15.0
    for n, v in enumerate(order):
        y = box.cell_center(int(v), t)[1] if own_rows else mid - pitch * n - 0.5 * pitch
        length = max(full * float(probs[v]), 0.05)
        at = (x0 + length / 2, y, z)
        frame.tiles.append(
            Tile(at, float(probs[v]), anchor, (length, thick, thick), kind=2, norm=1.0, lit=True)
        )
        ends[int(v)] = (x0 + length, y, z)
        frame.notes.append(Note(f"{vocab[v]} {labels[v]:.3f}", ends[int(v)], "right", size))
    # the camera takes the bars in, with the box they stand beside
    lo = np.asarray(box.min_corner, float)
    hi = np.maximum(box.max_corner, (x0 + full + 3.0, box.max_corner[1], z))
    look_at(frame, lo, hi, phase(frame.progress, 0.0, 0.15), margin=1.05)
    return ends


def _sample(frame, step, p, model) -> None:
    """The next-token bars at position t. Without a sweep: the app's own settings and the
    token it chose. `lens` reads the distribution from a residual stream part-way down the
    stack (model/lens.py) at the position where it is least sure; `sweep` = "temperature"
    (0.5 -> 3) or "top_k" (V -> 1, at the step's `temperature`) sets them from progress."""
    scene, trace, cfg = model.scene, model.trace, model.config
    idx = scene.index_of
    a = step.animation
    app = getattr(model, "sampling", sampling.Sampling())
    V = cfg.vocab_size
    vocab = cfg.vocab or tuple(str(v) for v in range(V))
    n_input = len(model.input_text) if model.input_text else scene.n_tokens
    stream = a.get("lens")
    if stream is None:
        t = frame.t
        logits = np.asarray(trace.logits[0, t], dtype=np.float64)
        source = "the logits"
    else:
        t = frame.t
        if step.t is None:  # the answer position where temperature reshapes the bars most
            t = lens.most_reshaped_position(
                cfg, model.params, trace, stream, n_input - 1, sampling.SWEEP_TEMPERATURES
            )
        frame.t = t
        logits = lens.logit_lens(cfg, model.params, trace, stream, t)
        source = f"logit lens on {stream}"
        frame.highlight.add(idx[stream])
        frame.cells.append(Highlight(idx[stream], Role.SOURCE, -1, -1, t, t + 1))
    sweep = a.get("sweep")
    if sweep == "temperature":
        temperature, top_k = sampling.swept_temperature(p), None
    elif sweep == "top_k":
        temperature, top_k = float(a.get("temperature", 1.0)), sampling.swept_top_k(p, V)
    else:
        temperature, top_k = app.temperature, app.top_k
    probs = next_token_distribution(logits[None], temperature, top_k)[0]
    frame.bars = [(vocab[v], float(probs[v])) for v in range(V)]
    grow = 1.0 if sweep is not None or stream is not None else ease(phase(p, 0.0, 0.5))
    anchor = idx[stream] if stream else idx[A.PROBS.name()]
    bar_ends = bars_in_scene(frame, scene, anchor, t, probs * grow, vocab, probs)
    k_text = "top-k = all" if not top_k else f"top-k = {top_k}" + (" (all)" if top_k >= V else "")
    if sweep is not None or stream is not None:
        # a sweep (or a lens) shows what a setting does: the caption says which, and what
        # one fixed random number u (from the app's seed) would pick under it
        frame.cells.append(Highlight(idx[A.PROBS.name()], Role.LINE, -1, -1, t, t + 1))
        if temperature <= 0 or top_k == 1:
            how = f"greedy (T = {temperature:.2f}, {k_text})"
            chosen = int(np.argmax(probs))
        else:
            u = float(np.random.default_rng(app.seed).random())
            chosen = sampling.draw(probs, u)
            how = f"sampled (T = {temperature:.2f}, {k_text}, u = {u:.2f})"
        frame.caption.append(f"{how}: {vocab[chosen]!r} (p = {probs[chosen]:.4f})")
        z = ", ".join(f"{vocab[v]} {logits[v]:.3g}" for v in range(min(V, 8)))
        frame.caption.append(f"{source} at t = {t}: z = {z}")
        if sweep is not None and frame.tiles:  # the setting in 3D too, above the bars
            bars = frame.tiles[-min(V, MAX_BARS) :]
            x = min(b.at[0] - b.size[0] / 2 for b in bars)
            top = max(b.at[1] for b in bars) + 1.6
            setting = f"T = {temperature:.2f} · {k_text}"
            frame.notes.append(Note(setting, (x, top, bars[0].at[2]), "right", 15.0, strong=True))
        return
    frame.cells.append(Highlight(idx[A.PROBS.name()], Role.SOURCE, -1, -1, t, t + 1))
    out_k = idx[A.OUTPUT_TOKENS.name()]
    if p >= 0.8:  # then the choice drops into the output row
        frame.cells.append(Highlight(out_k, Role.CELL, -1, -1, t, t + 1))
    chosen = int(np.argmax(trace[A.PROBS.name()][0, t]))
    g = t - (n_input - 1)  # which generated token position t chose (the input's own are fed)
    if not app.greedy and cfg.vocab and 0 <= g < len(model.output_text):
        chosen = vocab.index(model.output_text[g])
        k = f"top-k = {app.top_k}" if app.top_k else "top-k = all"
        how = f"sampled (T = {app.temperature:g}, {k}, seed {app.seed})"
    else:
        how = "greedy choice"
    frame.caption.append(f"{how} at t = {t}: {vocab[chosen]!r} (p = {probs[chosen]:.4f})")
    # the chosen letter leaves its bar and drops into the output row's cell
    fall = phase(p, 0.55, 0.8)
    out_box = scene.boxes[out_k]
    cell = out_box.cell_center(0, t)
    if out_k in frame.reveal:  # the row not computed yet: the choice fills its cell
        done = frame.reveal[out_k][0] * out_box.cols
        frame.reveal[out_k] = (max(done, t + (1.0 if fall >= 1 else 0.0)) / out_box.cols, 0)
    if 0 < fall < 1 and bar_ends:
        at = between(bar_ends.get(chosen, cell), cell, fall)
        frame.notes.append(Note(vocab[chosen], at, "centre", 24.0, True))
    elif fall >= 1:
        frame.notes.append(Note(f"chosen: {vocab[chosen]}", cell, "below", strong=True))
    hot = next_token_distribution(logits[None], sampling.SWEEP_TEMPERATURES[1], None)[0]
    frame.caption.append(
        f"at T = {sampling.SWEEP_TEMPERATURES[1]:g} the bars would read "
        + ", ".join(f"{vocab[v]} {hot[v]:.3f}" for v in range(min(V, 8)))
    )


LOOP_WINDOW = 0.22  # the loop's close-up shows this share of the model's height
LOOP_DIRECTION = (-24.0, 10.0)  # yaw, pitch: from the side the column stands tall


def _follow_loop(frame, scene, g, n_new, q, wave, out_box, in_box, col):
    """The loop's camera: a window on the model that rides down with the wave through the new
    column, waits at the output row while the letter is chosen, and rides back up with the
    letter into its input slot; after the last letter, the whole model (the step's view)."""
    lo_all, hi_all = (np.asarray(v, float) for v in scene.bounds)
    top, bottom = in_box.cell_center(0, col)[1], out_box.cell_center(0, col)[1]
    if q < 0.6:
        y = top + (bottom - top) * ease(wave)
    elif q < 0.8 or g == n_new - 1:
        y = bottom
    else:
        y = bottom + (top - bottom) * ease(phase(q, 0.8, 1.0))
    half = 0.5 * LOOP_WINDOW * (hi_all[1] - lo_all[1])
    # the window's centre stays far enough in that the rows at the ends (and the note under
    # the output row) are in it
    y = float(np.clip(y, lo_all[1] + 1.25 * half, hi_all[1] - half))
    lo = (lo_all[0], y - half, lo_all[2])
    hi = (hi_all[0], y + half, hi_all[2])
    first = phase(q, 0.0, 0.2) if g == 0 else 1.0  # ease in from the step's own view
    last = phase(q, 0.75, 1.0) if g == n_new - 1 else 0.0  # and back out to it
    look_at(frame, lo, hi, first - last, margin=1.05, direction=LOOP_DIRECTION)
    return (float(in_box.center[0]), y + 0.9 * half, float(in_box.origin[2]))


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
    vocab = model.config.vocab
    pred = int(np.argmax(model.trace[A.PROBS.name()][0, col]))
    letter = vocab[pred] if vocab else str(pred)
    out_box, in_box = scene.boxes[out], scene.boxes[inp]
    if q >= 0.6:
        frame.notes.append(
            Note(f"next: {letter}", out_box.cell_center(0, col), "below", 20.0, True)
        )
    if q >= 0.8 and col + 1 < T:
        u = phase(q, 0.8, 1.0)
        frame.ghosts.append(Ghost(out, col, inp, col + 1, u))
        # the letter rides with it, large enough to follow down the whole model
        at = between(out_box.cell_center(0, col), in_box.cell_center(0, col + 1), u)
        frame.notes.append(Note(letter, at, "centre", 26.0, True))
    if 0 < wave < 1:  # the new column lights up as the wave passes through the stack
        k_now = done[min(int(wave * n), n - 1)]
        frame.cells.append(Highlight(k_now, Role.LINE, -1, -1, col, col + 1))
    if p >= 1.0:
        for k in done + [inp, out]:
            frame.reveal.pop(k, None)
    top = _follow_loop(frame, scene, g, n_new, q, wave, out_box, in_box, col)
    # the sequence so far, always in view: the input, then the answer growing letter by letter
    answer = model.output_text[: g + (1 if q >= 0.6 else 0)]
    n_answer = T - n_input + 1
    sequence = f"{model.input_text or ''}  |  {answer}{'_' * (n_answer - len(answer))}"
    frame.notes.append(Note(sequence, top, "centre", 18.0, strong=True))
    tokens = model.trace.tokens[0]
    prefix = "".join(vocab[int(v)] for v in tokens[: col + 1]) if vocab else ""
    frame.caption += [
        f"step {g + 1} of {n_new}: the model reads {prefix!r} and predicts {letter!r} at t = {col}",
        f"answer so far: {model.output_text[: g + (1 if q >= 0.6 else 0)]!r}",
    ]
    frame.t = col


# ---- streams, curves and aggregates ---------------------------------------------------------


def _operands(scene, name: str, i: int, j: int, model) -> list:
    """The source references of cell (i, j) of box `name` that are boxes of the scene."""
    ex = explain(scene, name, i, j, model.trace, model.params)
    return [s for s in ex.sources if s.box in scene.index_of]


def column_top(box, col: int, dy: float = 0.0, dz: float = 0.0) -> tuple[float, float, float]:
    """A point above the top of one column of a box, on its front face."""
    return offset(box.cell_center(0, col), dy=0.5 + dy, dz=dz)


def _add(frame, step, p, model) -> None:
    """A residual add: column t of the stream and column t of the block's output leave their
    boxes and fly into the sum's column, where the two streams merge at a '+'; then every
    other position adds the same way."""
    scene, t, trace = model.scene, frame.t, model.trace
    idx = scene.index_of
    name = step.animation.get("tensor")
    out_k = idx[name]
    out = scene.boxes[out_k]
    T = out.cols
    sources = [s for s in _operands(scene, name, 0, t, model) if s.cols is not None]
    ins = [idx[s.box] for s in sources][:2]
    frame.highlight |= {out_k, *ins}
    fly_u = phase(p, 0.05, 0.45)
    merged = p >= 0.45
    frame.reveal[out_k] = ((t + (1.0 if merged else 0.0)) / T, ORDER_CODE["columns"])
    if 0 < fly_u < 1:
        for n, k in enumerate(ins):
            frame.ghosts.append(Ghost(k, t, out_k, t, phase(fly_u, 0.15 * n, 0.85 + 0.15 * n)))
    for k in ins:
        frame.cells.append(Highlight(k, Role.SOURCE, -1, -1, t, t + 1))
    plus = column_top(out, t, dy=1.2, dz=1.0)
    if p >= 0.3:
        frame.notes.append(Note("+", plus, "centre", size=22.0, strong=True))
    names = [scene.boxes[k] for k in ins]
    if merged and len(ins) == 2:
        a = float(names[0].source.matrix(trace, model.params)[0, t])
        b = float(names[1].source.matrix(trace, model.params)[0, t])
        y = float(out.source.matrix(trace, model.params)[0, t])
        frame.cells.append(Highlight(out_k, Role.CELL, 0, 1, t, t + 1))
        frame.notes.append(Note(f"{fmt(a)} + {fmt(b)} = {fmt(y)}", out.cell_center(0, t), "right"))
        frame.caption.append(
            f"row 0 at t = {t}: {names[0].title} {fmt(a)} + {names[1].title} {fmt(b)} = {fmt(y)}"
        )
    if p >= 0.65:
        then_every_column(frame, out_k, t, T, phase(p, 0.65, 0.95))
    frame.caption.insert(0, f"column t = {t}: stream + block output, cell by cell")
    # close on the '+' while the streams merge, back to the step's view as the rest adds up
    above = scene.boxes[ins[-1]] if ins else out
    lo = np.minimum(above.min_corner, out.min_corner) - (2.0, 2.0, 0.0)
    hi = np.maximum(np.maximum(above.max_corner, out.max_corner), plus) + (2.0, 2.0, 0.0)
    look_at(frame, lo, hi, phase(p, 0.0, 0.15) - phase(p, 0.8, 0.95), margin=1.3)


GELU_PLOT = (-4.0, 4.0)  # the widest x range plotted (a column's values set its own)


def _gelu(frame, step, p, model) -> None:
    """The nonlinearity drawn beside its block: the curve in the box's plane, right of it,
    and the column's values as points on it, appearing as the column is computed; the value
    in focus is written on the curve."""
    from ..model.gpt import activation

    scene, t, trace = model.scene, frame.t, model.trace
    idx = scene.index_of
    name = step.animation.get("tensor")
    g_k = idx[name]
    g = scene.boxes[g_k]
    src = [s for s in _operands(scene, name, 0, t, model) if s.cols is not None]
    x_k = idx[src[0].box] if src else g_k
    x_box = scene.boxes[x_k]
    x = x_box.source.matrix(trace, model.params)[:, t].astype(np.float64)
    y = g.source.matrix(trace, model.params)[:, t].astype(np.float64)
    T, n = g.cols, len(y)
    frame.highlight |= {g_k, x_k}
    # the plot: a square beside the box, in its front plane, over the range of this column
    side = 0.5 * float(g.size[1])
    x0 = g.max_corner[0] + 0.3 * side
    yb = g.origin[1] - 0.75 * float(g.size[1])
    z = g.origin[2] + 0.5
    lo_x = float(np.clip(x.min() - 0.5, GELU_PLOT[0], -0.5))
    hi_x = float(np.clip(x.max() + 0.5, 0.5, GELU_PLOT[1]))
    lo_y, hi_y = -0.4, max(hi_x, 0.5)

    def at(u: float, v: float) -> tuple[float, float, float]:
        return (x0 + (u - lo_x) / (hi_x - lo_x) * side, yb + (v - lo_y) / (hi_y - lo_y) * side, z)

    us = np.linspace(lo_x, hi_x, 81)
    vs = activation(model.config.activation, us)
    grey = (0.6, 0.64, 0.72, 0.7)
    frame.strokes.append(Stroke((at(lo_x, 0.0), at(hi_x, 0.0)), grey, 1.0))
    frame.strokes.append(Stroke((at(0.0, lo_y), at(0.0, hi_y)), grey, 1.0))
    done = int(phase(p, 0.1, 0.75) * n)
    inside = [k for k in range(done) if lo_x <= x[k] <= hi_x and lo_y <= y[k] <= hi_y]
    frame.strokes.append(
        Stroke(
            tuple(at(u, v) for u, v in zip(us, vs, strict=True)),
            (1.0, 0.84, 0.35, 0.95),
            2.5,
            dots=tuple(at(x[k], y[k]) for k in inside),
            dot_px=3.5,
        )
    )
    frame.notes.append(Note(model.config.activation.replace("_new", ""), at(lo_x, hi_y), "right"))
    frame.reveal[g_k] = ((t + done / max(n, 1)) / T, ORDER_CODE["columns"])
    if 0 < done < n or p < 0.1:
        k = max(done - 1, 0)
        frame.cells.append(Highlight(x_k, Role.SOURCE, k, k + 1, t, t + 1))
        frame.cells.append(Highlight(g_k, Role.CELL, k, k + 1, t, t + 1))
        text = f"gelu({fmt(x[k])}) = {fmt(y[k])}"
        frame.notes.append(
            Note(
                text,
                at(float(np.clip(x[k], lo_x, hi_x)), float(np.clip(y[k], lo_y, hi_y))),
                "above",
                strong=True,
            )
        )
        frame.caption.append(f"row {k} at t = {t}: {text}")
    if p >= 0.75:
        then_every_column(frame, g_k, t, T, phase(p, 0.8, 1.0))
        frame.caption.append(
            f"all {n} values of column t = {t} through the curve; then every column"
        )
    # close on the box and its curve while the column goes through it; the step's own view
    # (both boxes) as every other column follows
    lo, hi = np.asarray(g.min_corner, float), np.maximum(g.max_corner, at(hi_x, hi_y))
    look_at(frame, lo, hi, phase(p, 0.0, 0.15) - phase(p, 0.78, 0.95), margin=1.08)


WEIGHT_TAGS = 3  # attention weights written in the scene: the largest few


def _weighted(frame, step, p, model) -> None:
    """A head's output column t: the value columns 0..t fly into it one after another, each
    written with its attention weight, and the column appears as their weighted sum."""
    scene, t, trace = model.scene, frame.t, model.trace
    idx = scene.index_of
    name = step.animation.get("tensor")
    o_k = idx[name]
    o = scene.boxes[o_k]
    _, _, _, probs_name = scene.softmax_boxes(name)
    pr_k = idx[probs_name]
    pr = scene.boxes[pr_k].source.matrix(trace, model.params)[:, t].astype(np.float64)
    src = [s for s in _operands(scene, name, 0, t, model) if s.box != probs_name]
    v_k = idx[src[0].box] if src else o_k
    T = o.cols
    frame.highlight |= {o_k, v_k, pr_k}
    frame.cells.append(Highlight(pr_k, Role.SOURCE, 0, t + 1, t, t + 1))
    fly_u = phase(p, 0.05, 0.7)
    frame.reveal[o_k] = ((t + (1.0 if fly_u >= 1 else 0.0)) / T, ORDER_CODE["columns"])
    m = t + 1
    for k in range(m):
        u = phase(fly_u, 0.6 * k / m, 0.6 * k / m + 0.4)
        if 0 < u < 1:
            frame.ghosts.append(Ghost(v_k, k, o_k, t, u))
        if 0 < u:
            frame.cells.append(Highlight(v_k, Role.SOURCE, -1, -1, k, k + 1))
    k_now = min(int(fly_u * m / 1.0), m - 1) if fly_u < 1 else m - 1
    v_box = scene.boxes[v_k]
    # the heaviest weights written over their value columns (all of them would crowd the
    # narrow columns; the caption lists every one)
    heavy = set(np.argsort(-pr[:m])[:WEIGHT_TAGS].tolist())
    for k in sorted(heavy):
        if phase(fly_u, 0.6 * k / m, 1.0) > 0:
            frame.notes.append(
                Note(
                    f"× {pr[k]:.2f}",
                    column_top(v_box, k, dy=0.6),
                    "above",
                    size=13.0,
                    strong=k == k_now,
                )
            )
    frame.caption.append(f"out[:, {t}] = " + " + ".join(f"{pr[k]:.2f}·v[:, {k}]" for k in range(m)))
    if fly_u >= 1:
        frame.cells.append(Highlight(o_k, Role.CELL, -1, -1, t, t + 1))
    if p >= 0.75:
        then_every_column(frame, o_k, t, T, phase(p, 0.78, 1.0))


def _compare(frame, step, p, model) -> None:
    """Visit boxes in turn (the heads' attention weights, one behind another): the camera
    frames each alone while the boxes of the other heads of its layer step back, its columns
    fill in, and what position t attends to most is written beside it; then all together."""
    scene, t = model.scene, frame.t
    boxes = expand_ordered(scene, step.animation.get("tensors"))
    if not boxes:
        return
    n = len(boxes)
    visiting = min(int(phase(p, 0.0, 0.85) * n), n - 1) if p < 0.85 else None
    for m, k in enumerate(boxes):
        u = phase(p, 0.85 * m / n, 0.85 * (m + 0.6) / n)
        frame.reveal[k] = (u, ORDER_CODE["columns"])
    if visiting is None:  # all together: the compared boxes alone, side by side in depth
        layers = {scene.boxes[k].layer for k in boxes}
        for j, other in enumerate(scene.boxes):
            if j not in boxes and other.layer in layers and other.head is not None:
                frame.alpha[j] = min(frame.alpha.get(j, 1.0), SPOTLIGHT_ALPHA)
        return
    k = boxes[visiting]
    box = scene.boxes[k]
    for j, other in enumerate(scene.boxes):  # the other heads of the layer step back
        if other.layer == box.layer and other.head is not None and other.head != box.head:
            frame.alpha[j] = min(frame.alpha.get(j, 1.0), SPOTLIGHT_ALPHA)
    weights = box.source.matrix(model.trace, model.params)[:, t].astype(np.float64)
    top = int(np.argmax(weights))
    frame.cells.append(Highlight(k, Role.CELL, top, top + 1, t, t + 1))
    frame.cells.append(Highlight(k, Role.LINE, -1, -1, t, t + 1))
    text = f"head {box.head + 1 if box.head is not None else '?'}: t = {t} looks at key {top}"
    beside = (box.max_corner[0], box.cell_center(top, t)[1], box.origin[2])
    frame.notes.append(Note(f"{text} ({weights[top]:.2f})", beside, "right", strong=True))
    frame.caption.append(
        f"{box.title}, column t = {t}: " + ", ".join(f"{w:.2f}" for w in weights[: t + 1])
    )
    seg = 0.85 / n
    u = phase(p, seg * visiting, seg * visiting + 0.3 * seg)
    if visiting > 0:
        u = 1.0  # from one head straight to the next
        prev = scene.boxes[boxes[visiting - 1]]
        v = phase(p, seg * visiting, seg * visiting + 0.3 * seg)
        look_at(frame, prev.min_corner, prev.max_corner, 1.0, margin=1.6)
        mid = frame.camera
        frame.camera = mid
        if frame.framing is not None and frame.step_camera is not None:
            base = frame.step_camera
            here = frame.framing.boxes(box.min_corner, box.max_corner, base.yaw, base.pitch, 1.6)
            frame.camera = fly(mid, here, ease(v))
        return
    look_at(frame, box.min_corner, box.max_corner, u, margin=1.6)


def _glow(frame, step, p, model) -> None:
    """The tensors the text names, lit one after another top to bottom (in scene order) as
    the camera travels down the stack, and kept lit, each with `note` (default its title)
    written beside it: parts too small to see in a view of the whole model still stand
    out."""
    scene = model.scene
    boxes = expand(scene, step.animation.get("tensors"))
    mark = step.animation.get("note")
    n = max(len(boxes), 1)
    for m, k in enumerate(boxes):
        if p >= 0.8 * m / n:
            frame.cells.append(Highlight(k, Role.SOURCE, -1, -1, -1, -1))
            box = scene.boxes[k]  # written beside it: a mark the eye finds at any size
            at = (box.max_corner[0], box.center[1], box.origin[2])
            frame.notes.append(Note(mark or box.title, at, "right", 13.0, strong=m == 0))
    lit = sum(1 for m in range(len(boxes)) if p >= 0.8 * m / n)
    frame.caption.append(f"{lit} of {len(boxes)} lit")


def _same_token(frame, step, p, model) -> None:
    """The letter at position t and every other position holding the same letter: their
    token columns light (the same numbers), then their position columns (different ones),
    then their embeddings, whose first numbers are written to show they differ."""
    scene, t, trace = model.scene, frame.t, model.trace
    idx = scene.index_of
    tok, pos, emb = (idx[n] for n in scene.embedding_boxes())
    tokens = trace.tokens[0]
    n_input = len(model.input_text) if model.input_text else len(tokens)
    same = [j for j in range(min(n_input, len(tokens))) if tokens[j] == tokens[t]]  # the input's
    vocab = model.config.vocab
    letter = vocab[int(tokens[t])] if vocab else str(int(tokens[t]))
    boxes = scene.boxes
    for j in same:
        frame.cells.append(Highlight(tok, Role.SOURCE, -1, -1, j, j + 1))
        frame.notes.append(Note(letter, column_top(boxes[tok], j, dy=0.3), "above", 15.0))
        if p >= 0.3:
            frame.cells.append(Highlight(pos, Role.SOURCE, -1, -1, j, j + 1))
            frame.notes.append(Note(f"position {j}", column_top(boxes[pos], j), "above", 13.0))
        if p >= 0.6:
            frame.cells.append(Highlight(emb, Role.CELL, -1, -1, j, j + 1))
    where = ", ".join(str(j) for j in same)
    frame.caption.append(f"{letter!r} stands at positions {where}: one token column, twice")
    if p >= 0.6:
        e = boxes[emb].source.matrix(trace, model.params)
        firsts = "  vs  ".join(f"{fmt(float(e[0, j]))}" for j in same)
        at = boxes[emb].cell_center(0, same[-1])
        frame.notes.append(Note(f"first numbers: {firsts}", at, "right", strong=True))
        frame.caption.append(f"their embeddings differ: row 0 reads {firsts}")


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
    "add": _add,
    "gelu": _gelu,
    "weighted": _weighted,
    "compare": _compare,
    "glow": _glow,
    "same": _same_token,
}
