"""Where labels go on screen (pure: scene + camera + window -> placements in pixels).

One greedy pass places every label: token letters in their cells, then the titles of the boxes
in focus (hovered, or highlighted by the walkthrough) with their dimension labels, the
vocabulary letters beside the logits and probabilities rows, the section brackets down the
right side of the model, and last the other titles, larger boxes first. A label is an
axis-aligned rectangle in pixels: it is placed at the first candidate position that stays on
the image, off the panels and off every label placed before it, and for titles off the other
boxes' projected rectangles (so a title is never read as another box's). Sizes come from the
box's size on screen, never below MIN_PX: a label that does not fit at that size is dropped,
not shrunk. Boxes are measured by their 8 projected corners, so any 3D layout works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..model.activations import Op
from .camera import Camera
from .drawing import Note, Stroke
from .framing import default_panels

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, y down

MIN_PX = 12.0  # the smallest text drawn: a label that needs less is dropped
MAX_PX = 18.0
SECTION_PX = 14.0
DIM_PX = 13.0
GAP = 3.0  # pixels between a label and its box
TITLE_BOX_PX = 28.0  # a box smaller than this on screen (sqrt of its area) gets no title
BOX_SLACK = 3.0  # pixels a title may reach into another box's projected rectangle
MAX_DIM_BOXES = 4  # dimension labels for at most this many focused boxes
CHAR_WIDTH = 0.47  # the UI font's glyph advance in font sizes: titles measure 0.37-0.47

Measure = Callable[[str, float], float]  # (text, size in px) -> width in px


def char_measure(text: str, size: float) -> float:
    return CHAR_WIDTH * len(text) * size


@dataclass(frozen=True)
class Label:
    text: str
    x: float  # pixel x of the text's left edge
    y: float  # pixel y of the text's bottom edge (the top is y - size)
    size: float  # font size in pixels
    kind: str  # "title", "focus" (a focused box's title), "token", "vocab" (a row's
    # letter), "dim" (an edge's length), "note" or "result" (the walkthrough's numbers)
    box: str  # the box's name
    w: float = 0.0  # width in pixels
    inside: bool = False  # drawn over its own box (wants a backing plate)
    right: bool = False  # left of its box: the text ends at the right edge, next to the box

    @property
    def rect(self) -> Rect:
        return (self.x, self.y - self.size, self.x + self.w, self.y)


@dataclass(frozen=True)
class DimLabel:
    """A "|-- T = 11 --|" measure along one edge of a box."""

    a: tuple[float, float]  # the line's ends in pixels, set off the edge
    b: tuple[float, float]
    label: Label


@dataclass(frozen=True)
class SectionLabel:
    text: str
    kind: str  # embedding, attention, mlp, output
    x: float  # pixel x of the bracket
    y_top: float
    y_bottom: float
    size: float
    text_x: float = 0.0  # the title's left edge
    w: float = 0.0
    side: float = 1.0  # 1: right of the model (the bracket opens left), -1: left of it
    layer: int | None = None  # 0-based; None for the embedding and the output

    @property
    def rect(self) -> Rect:
        mid = (self.y_top + self.y_bottom) / 2
        return (self.text_x, mid - self.size / 2, self.text_x + self.w, mid + self.size / 2)


@dataclass
class Placement:
    labels: list[Label] = field(default_factory=list)  # titles, tokens, letters, dim texts
    sections: list[SectionLabel] = field(default_factory=list)
    dims: list[DimLabel] = field(default_factory=list)


# ---- projection ---------------------------------------------------------------------------


def box_corners(scene) -> np.ndarray:
    """float64 [N, 8, 3]: the 8 corners of every box (cached on the immutable scene)."""

    def corners() -> np.ndarray:
        ab = scene.aabbs() if scene.boxes else np.zeros((0, 2, 3))
        pick = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        return np.stack([ab[:, pick[:, d], d] for d in range(3)], axis=-1)

    return scene.cached("_box_corners", corners)


def screen_rects(
    scene, camera: Camera, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rects [N, 4] x0 y0 x1 y1, in front [N], depth [N, 2]) of every box's projected corners
    (depth: of its nearest and farthest corners). A box with a corner behind the eye has no
    meaningful rectangle (in front is False)."""
    c = box_corners(scene)
    if not len(c):
        return np.zeros((0, 4)), np.zeros(0, bool), np.zeros((0, 2))
    p = camera.project(c.reshape(-1, 3), width, height).reshape(-1, 8, 3)
    near = camera.clip_planes()[0]
    front = (p[:, :, 2] > near).all(axis=1)
    with np.errstate(invalid="ignore"):
        rects = np.concatenate([p[:, :, :2].min(axis=1), p[:, :, :2].max(axis=1)], axis=1)
    rects[~front] = np.nan
    return (
        rects,
        np.asarray(front),
        np.stack([p[:, :, 2].min(axis=1), p[:, :, 2].max(axis=1)], axis=1),
    )


def _visible(rects: np.ndarray, width: int, height: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (
            (rects[:, 2] > 0) & (rects[:, 0] < width) & (rects[:, 3] > 0) & (rects[:, 1] < height)
        )


# ---- the free-space bookkeeping -------------------------------------------------------------


class _Board:
    """Rectangles already taken (labels, panels) and the boxes' own rectangles."""

    def __init__(
        self,
        width: int,
        height: int,
        panels: Iterable[Rect],
        boxes: np.ndarray,
        depth: np.ndarray | None = None,
    ):
        self.width, self.height = width, height
        self.taken = np.zeros((64, 4))
        self.n = 0
        for r in panels:
            self.take(r)
        self.boxes = boxes  # [M, 4] of the boxes titles must keep off
        self.depth = np.zeros((len(boxes), 2)) if depth is None else depth

    def copy(self) -> _Board:
        other = _Board(self.width, self.height, (), self.boxes, self.depth)
        other.taken, other.n = self.taken.copy(), self.n
        return other

    def take(self, r: Rect) -> None:
        if self.n == len(self.taken):
            self.taken = np.concatenate([self.taken, np.zeros_like(self.taken)])
        self.taken[self.n] = r
        self.n += 1

    def free(self, r: Rect, margin: float = 1.0) -> bool:
        """On the image and clear of everything taken (with `margin` pixels between)."""
        if r[0] < 0 or r[1] < 0 or r[2] > self.width or r[3] > self.height:
            return False
        t = self.taken[: self.n]
        hit = (
            (t[:, 0] < r[2] + margin)
            & (r[0] - margin < t[:, 2])
            & (t[:, 1] < r[3] + margin)
            & (r[1] - margin < t[:, 3])
        )
        return not hit.any()

    def off_boxes(self, r: Rect, own: int, strict: bool = True) -> bool:
        """Clear of every other box (strict), or of all but those wholly behind box `own` (a
        label over a box beside or in front of its own reads as that box's; over one far
        behind, as another head, it floats beside its own, in front)."""
        b, t = self.boxes, BOX_SLACK  # a projected rectangle is larger than the box looks
        with np.errstate(invalid="ignore"):
            hit = (b[:, 0] + t < r[2]) & (r[0] < b[:, 2] - t)
            hit &= (b[:, 1] + t < r[3]) & (r[1] < b[:, 3] - t)
        if not strict:
            hit &= self.depth[:, 0] <= self.depth[own, 1]
        hit[own] = False
        return not hit.any()


# ---- candidates -----------------------------------------------------------------------------


def title_texts(title: str) -> list[str]:
    """The title, then without its "Layer n · " prefix (the section says it), then its last
    part unless it belongs to a head: shorter forms for tighter spots, longest first."""
    parts, depth, start = [], 0, 0  # split at " · " outside parentheses
    for k, ch in enumerate(title):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and title.startswith(" · ", k):
            parts.append(title[start:k])
            start = k + 3
    parts.append(title[start:])
    out = [title]
    if len(parts) > 1 and (parts[0].startswith("Layer ") or parts[0].startswith("Final")):
        out.append(" · ".join(parts[1:]))
    if len(parts) > 2 and not any(p.startswith("head ") for p in parts):
        out.append(parts[-1])  # a head's part names which head: several look alike
    return list(dict.fromkeys(out))


def _anchors(box: Rect, w: float, h: float) -> list[tuple[float, float, bool]]:
    """(left, top, inside) of a w x h label around a box's rectangle, in preference order:
    above its top-left corner, beside its top (left, then right), above its top-right corner,
    inside the top edge. Never below: there it would read as the next box's title."""
    x0, y0, x1, y1 = box
    g = GAP
    out = [
        (x0, y0 - g - h, False),
        (x0 - g - w, y0, False),
        (x1 + g, y0, False),
        (x1 - w, y0 - g - h, False),
    ]
    if w <= x1 - x0 - 2 * g and h <= (y1 - y0) / 2:
        out.append((x0 + g, y0 + g, True))
    return out


def title_size(rect) -> float:
    """A title's size from its box's size on screen (sqrt of the on-image area), clamped."""
    area = max(float(rect[2] - rect[0]), 0.0) * max(float(rect[3] - rect[1]), 0.0)
    return float(np.clip(0.3 * np.sqrt(area), MIN_PX, MAX_PX))


def _clip(r, width: int, height: int) -> Rect:
    return (max(r[0], 0.0), max(r[1], 0.0), min(r[2], width), min(r[3], height))


# ---- the pass -------------------------------------------------------------------------------


def place(
    scene,
    camera: Camera,
    width: int,
    height: int,
    token_text: dict[str, list[str]] | None = None,
    focus: Sequence[str] = (),
    panels: Iterable[Rect] | None = None,
    vocab: Sequence[str] | None = None,
    measure: Measure = char_measure,
    with_sections: bool = True,
    notes: Sequence[Note] = (),
    faded: Iterable[int] = (),
    context_titles: bool = True,
) -> Placement:
    """Every label of one view. token_text: {box name: per-column strings} for the token rows;
    focus: names of the boxes in focus, first first (they win and get dimension labels);
    panels: rectangles no label may cover (None: where the panels open, as the camera presets
    assume; () for none); vocab: the token strings of a character vocabulary
    (letters beside the logits and probabilities rows); with_sections False: no brackets (a
    scale scene names its models' layers itself, scene/scale.py); notes: the walkthrough's
    numbers written in the scene, placed before everything else (they are the moment); faded:
    boxes the walkthrough draws faded or hidden, which get no label and block none;
    context_titles False: titles for the boxes in focus only."""
    out = Placement()
    boxes = scene.boxes
    if not boxes:
        return out
    if panels is None:
        panels = default_panels(width, height)
    rects, front, depth = screen_rects(scene, camera, width, height)
    shown = front & _visible(rects, width, height)
    shown[[k for k in faded if 0 <= k < len(boxes)]] = False
    board = _Board(width, height, panels, np.where(shown[:, None], rects, np.nan), depth)
    index = scene.index_of
    focused = [index[n] for n in dict.fromkeys(focus) if n in index and shown[index[n]]]
    _place_notes(out, board, notes, camera, width, height, measure)

    for i in np.flatnonzero(shown):
        if token_text and boxes[i].name in token_text:
            _place_tokens(out, board, boxes[i], rects[i], token_text[boxes[i].name], measure)
    for i in focused:
        _place_title(out, board, boxes[i], i, rects[i], measure, focused=True)
    for i in focused[:MAX_DIM_BOXES]:
        _place_dims(out, board, scene, camera, width, height, i, measure)
    if vocab:
        for i in np.flatnonzero(shown):
            rows = vocab_rows(boxes[i], vocab)
            if rows:
                _place_vocab(out, board, scene, camera, width, height, i, rows, measure)
    if with_sections:
        out.sections = _place_sections(board, scene, rects, front, width, height, measure)
    in_focus = set(focused)
    rest = [i for i in np.flatnonzero(shown) if i not in in_focus]
    clipped = {i: _clip(rects[i], width, height) for i in rest}
    area = {i: (r[2] - r[0]) * (r[3] - r[1]) for i, r in clipped.items()}
    for i in sorted(rest, key=lambda i: (-area[i], i)) if context_titles else ():
        if area[i] >= TITLE_BOX_PX**2:
            _place_title(out, board, boxes[i], i, rects[i], measure, focused=False)
    return out


def place_labels(
    scene, camera: Camera, width: int, height: int, token_text=None, **kw
) -> list[Label]:
    """The labels of `place` (titles, tokens, letters and dimension texts)."""
    return place(scene, camera, width, height, token_text, **kw).labels


def place_sections(scene, camera: Camera, width: int, height: int, **kw) -> list[SectionLabel]:
    return place(scene, camera, width, height, **kw).sections


def _place_title(out, board, box, i, rect, measure, focused: bool) -> None:
    clipped = _clip(rect, board.width, board.height)
    size = max(title_size(clipped), 13.0) if focused else title_size(clipped)
    # the box's own size first, then the readable minimum; never smaller
    sizes = dict.fromkeys((size, MIN_PX))
    # the box in focus is what the learner looks at: its title wins even over other boxes
    modes = ("strict", "behind", "any") if focused else ("strict", "behind")
    tries = [(k, s, t) for k in modes for s in sizes for t in title_texts(box.title)]
    for mode, size, text in tries:
        w = measure(text, size)
        for x, y, inside in _anchors(tuple(rect), w, size):
            r = (x, y, x + w, y + size)
            if not board.free(r, margin=2.0):
                continue
            # beside the box, a title keeps off other boxes, or failing that off those in
            # front of its own (it would read as theirs); inside its own top edge it may
            if not inside and mode != "any" and not board.off_boxes(r, i, mode == "strict"):
                continue
            if mode == "behind" and (x + w <= rect[0] or x >= rect[2]):
                continue  # beside the box over others: too far from it to read as its own
            board.take(r)
            kind = "focus" if focused else "title"
            right = x + w <= rect[0]
            out.labels.append(Label(text, x, y + size, size, kind, box.name, w, inside, right))
            return


NOTE_GAP = 5.0  # pixels between a note and the point it is about


def _note_rect(side: str, x: float, y: float, w: float, h: float, gap: float = NOTE_GAP) -> Rect:
    if side == "below":
        return (x - w / 2, y + gap, x + w / 2, y + gap + h)
    if side == "left":
        return (x - gap - w, y - h / 2, x - gap, y + h / 2)
    if side == "right":
        return (x + gap, y - h / 2, x + gap + w, y + h / 2)
    if side == "centre":
        return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return (x - w / 2, y - gap - h, x + w / 2, y - gap)  # above


def _place_notes(out, board, notes, camera, width, height, measure) -> None:
    """Each note beside its point on the side asked for, else the first other side that is
    free (on the image, off the panels and the notes before it); a note with no room is
    left out rather than written over another."""
    if not notes:
        return
    points = camera.project(np.array([n.at for n in notes], float), width, height)
    for note, (x, y, depth) in zip(notes, points, strict=True):
        if depth <= 0:
            continue
        w = measure(note.text, note.size)
        sides = [note.side] + [s for s in ("above", "right", "below", "left") if s != note.side]
        # beside the point, then a little further out (past a note already at the point)
        for gap, side in [(g, s) for g in (NOTE_GAP, 4 * NOTE_GAP) for s in sides]:
            r = _note_rect(side, x, y, w, note.size, gap)
            if board.free(r, margin=2.0):
                board.take(r)
                kind = "result" if note.strong else "note"
                out.labels.append(Label(note.text, r[0], r[3], note.size, kind, "", w, True))
                break


def project_strokes(
    strokes: Sequence[Stroke], camera: Camera, width: int, height: int
) -> list[tuple[Stroke, np.ndarray, np.ndarray]]:
    """(stroke, its points in pixels [N, 2], its dots in pixels [M, 2]); points behind the
    eye are dropped."""
    out = []
    for stroke in strokes:
        pts = [np.zeros((0, 2)), np.zeros((0, 2))]
        for n, world in enumerate((stroke.points, stroke.dots)):
            if world:
                p = camera.project(np.array(world, float), width, height)
                pts[n] = p[p[:, 2] > 0][:, :2]
        out.append((stroke, pts[0], pts[1]))
    return out


def _place_tokens(out, board, box, rect, texts, measure) -> None:
    """Letters centred in the token row's cells; all or none, at one size."""
    cols = max(box.cols, 1)
    cell_w, cell_h = (rect[2] - rect[0]) / cols, rect[3] - rect[1]
    size = min(0.8 * min(cell_w, cell_h * 1.6), 40.0)
    if size < MIN_PX:
        return
    cy = (rect[1] + rect[3]) / 2
    for j, text in enumerate(texts[:cols]):
        cx = rect[0] + (j + 0.5) * cell_w
        w = measure(text, size)
        r = (cx - w / 2, cy - size / 2, cx + w / 2, cy + size / 2)
        if 0 <= r[0] and r[2] <= board.width and 0 <= r[1] and r[3] <= board.height:
            board.take(r)
            out.labels.append(Label(text, r[0], r[3], size, "token", box.name, w, True))


def vocab_rows(box, vocab: Sequence[str]) -> list[str] | None:
    """The row letters of a logits or probabilities box (found by its operation), when the
    vocabulary is one of characters."""
    if box.op not in (Op.LOGITS, Op.PROBS) or box.row_axis != "vocab":
        return None
    if len(vocab) != box.rows or any(len(v) > 3 for v in vocab):
        return None
    return [v if v.strip() else repr(v)[1:-1] or "␣" for v in vocab]


def _front_face(box) -> tuple[float, float, float, float, float]:
    """(x0, x1, y_bottom, y_top, z) of the box's front face."""
    lo, hi = box.min_corner, box.max_corner
    return lo[0], hi[0], lo[1], hi[1], hi[2]


def _place_vocab(out, board, scene, camera, width, height, i, rows, measure) -> None:
    """Each row's letter just right of the row (left of it are the weights that made it; the
    left side if the right is taken); all or none, one row's height high at most."""
    box = scene.boxes[i]
    x0, x1, yb, yt, z = _front_face(box)
    ys = yt - (np.arange(box.rows) + 0.5) * (yt - yb) / box.rows
    for side_x, sign in ((x1, 1.0), (x0, -1.0)):
        pts = np.array([[side_x, y, z] for y in ys])
        p = camera.project(pts, width, height)
        if (p[:, 2] <= 0).any():
            return
        pitch = float(np.min(np.abs(np.diff(p[:, 1])))) if len(p) > 1 else MIN_PX * 2
        size = min(pitch, MAX_PX)
        if size < MIN_PX:
            return
        placed = []
        for text, (px, py, _) in zip(rows, p, strict=True):
            w = measure(text, size)
            left = px - GAP - w if sign < 0 else px + GAP
            r = (left, py - size / 2, left + w, py + size / 2)
            if not board.free(r, margin=0.0) or not board.off_boxes(r, i):
                break
            placed.append(Label(text, r[0], r[3], size, "vocab", box.name, w))
        else:
            for lb in placed:
                board.take(lb.rect)
            out.labels.extend(placed)
            return


KEY_AXES = ("T_k", "H·T_k")  # row axes of the attention scores / probs boxes


def _axis_text(axis: str, n: int) -> str | None:
    if axis in ("", "1") or n <= 1:
        return None
    return f"{axis} = {n}"


def _place_dims(out, board, scene, camera, width, height, i, measure) -> None:
    """The box's columns measured along its bottom edge, its rows along its left edge (front
    face), each set off the edge, away from the box."""
    box = scene.boxes[i]
    x0, x1, yb, yt, z = _front_face(box)
    centre = camera.project(np.array([box.center]), width, height)[0, :2]
    cols, rows = _axis_text(box.col_axis, box.cols), _axis_text(box.row_axis, box.rows)
    if box.row_axis in KEY_AXES:  # attention scores / probs: a column per query, a row per key
        cols, rows = cols and f"query {cols}", rows and f"key {rows}"
    edges = (
        (cols, (x0, yb, z), (x1, yb, z)),
        (rows, (x0, yt, z), (x0, yb, z)),
    )
    for text, a, b in edges:
        if text is None:
            continue
        p = camera.project(np.array([a, b]), width, height)
        if (p[:, 2] <= 0).any():
            continue
        pa, pb = p[0, :2], p[1, :2]
        along = pb - pa
        length = float(np.hypot(*along))
        if length < 16.0:
            continue
        normal = np.array([-along[1], along[0]]) / length
        mid = (pa + pb) / 2
        if normal @ (mid - centre) < 0:
            normal = -normal
        off = 7.0
        la, lb = pa + normal * off, pb + normal * off
        size = DIM_PX
        w = measure(text, size)
        m = mid + normal * (off + 4.0)
        if abs(normal[0]) > abs(normal[1]):  # a side edge: the text beside the line's middle
            left = m[0] if normal[0] > 0 else m[0] - w
            r = (left, m[1] - size / 2, left + w, m[1] + size / 2)
        else:  # a top or bottom edge: the text centred past the line
            top = m[1] if normal[1] > 0 else m[1] - size
            r = (m[0] - w / 2, top, m[0] + w / 2, top + size)
        if not board.free(r, margin=1.0):
            continue
        board.take(r)
        label = Label(text, r[0], r[3], size, "dim", box.name, w)
        out.labels.append(label)
        out.dims.append(DimLabel((float(la[0]), float(la[1])), (float(lb[0]), float(lb[1])), label))


# ---- section labels: the flow of the model at a glance, down its right side ------------------

SECTION_OF_GROUP = {
    "embedding": "embedding",
    "ln_1": "attention",
    "attention": "attention",
    "projection": "attention",
    "ln_2": "mlp",
    "mlp": "mlp",
    "ln_f": "output",
    "output": "output",
}


def sections(scene) -> list[tuple[str, str, float, float]]:
    """(title, kind, top y, bottom y) of each section, in order: Embedding, Layer i ·
    self-attention, Layer i · MLP, ..., Output. Cached on the (immutable) scene."""
    return [(t, k, top, bottom) for t, k, top, bottom, _ in section_members(scene)]


def section_members(scene) -> list[tuple[str, str, float, float, np.ndarray]]:
    """sections() with the indices of each section's boxes."""
    return scene.cached("_sections", lambda: _sections(scene))


def _sections(scene) -> list[tuple[str, str, float, float, np.ndarray]]:
    spans: dict[tuple, list[float]] = {}
    members: dict[tuple, list[int]] = {}
    for k, box in enumerate(scene.boxes):
        kind = SECTION_OF_GROUP.get(box.group)
        if kind is None:
            continue
        key = (box.layer, kind)
        top, bottom = box.origin[1], box.origin[1] - box.size[1]
        if key not in spans:
            spans[key] = [top, bottom]
            members[key] = []
        else:
            spans[key][0] = max(spans[key][0], top)
            spans[key][1] = min(spans[key][1], bottom)
        members[key].append(k)
    heads = scene.config.n_head
    titles = {
        "embedding": "Embedding",
        "attention": f"self-attention · {heads} head{'s' if heads > 1 else ''}",
        "mlp": "MLP",
        "output": "Output · logits -> probabilities",
    }
    out = []
    for (layer, kind), (top, bottom) in spans.items():
        title = titles[kind] if layer is None else f"Layer {layer + 1} · {titles[kind]}"
        out.append((title, kind, top, bottom, np.array(members[(layer, kind)], int)))
    return out


def section_labels(
    scene, camera: Camera, width: int, height: int, panels: Iterable[Rect] | None = None
) -> list[SectionLabel]:
    """The section brackets alone (as `place` puts them when no focused label is in the way),
    for what hangs off a section, e.g. the parameter counts of the Analysis overlay."""
    if not scene.boxes:
        return []
    rects, front, depth = screen_rects(scene, camera, width, height)
    shown = default_panels(width, height) if panels is None else panels
    board = _Board(width, height, shown, rects, depth)
    return _place_sections(board, scene, rects, front, width, height, char_measure)


def _place_sections(board, scene, rects, front, width, height, measure) -> list[SectionLabel]:
    """A bracket spanning each section's rows on screen, with the section's title beside it:
    down the right side of the model, or its left side when the right has less room (a panel
    there). Sections too short on screen for their title are left out; brackets of
    neighbouring sections never overlap."""
    spans = _section_spans(scene, rects, front)
    for a, b in zip(spans, spans[1:], strict=False):  # overlapping neighbours share the gap
        if a[5] > b[4] - 4:
            cut = (a[5] + b[4]) / 2
            a[5], b[4] = cut - 2, cut + 2
    best: tuple[_Board, list[SectionLabel]] | None = None
    for side in (1.0, -1.0):
        trial = board.copy()
        placed = _sections_on(trial, spans, side, height, measure)
        if best is None or len(placed) > len(best[1]):
            best = (trial, placed)
    assert best is not None
    board.taken, board.n = best[0].taken, best[0].n
    return best[1]


def _section_spans(scene, rects, front) -> list[list]:
    """[title, kind, left, right, top, bottom, layer] of each section on screen, top first."""
    spans = []
    for title, kind, _, _, idx in section_members(scene):
        ok = idx[front[idx]]
        if not len(ok) or len(ok) < len(idx):  # a box behind the eye: no honest span
            continue
        r = rects[ok]
        layer = scene.boxes[int(idx[0])].layer
        spans.append(
            [title, kind, r[:, 0].min(), r[:, 2].max(), r[:, 1].min(), r[:, 3].max(), layer]
        )
    spans.sort(key=lambda s: s[4])
    return spans


def section_rects(scene, camera: Camera, width: int, height: int) -> dict[tuple, Rect]:
    """(layer, kind) -> the projected rectangle of that section's boxes."""
    rects, front, _ = screen_rects(scene, camera, width, height)
    spans = _section_spans(scene, rects, front)
    return {(s[6], s[1]): (float(s[2]), float(s[4]), float(s[3]), float(s[5])) for s in spans}


def _sections_on(board, spans, side: float, height: int, measure) -> list[SectionLabel]:
    out = []
    for title, kind, left, right, top, bottom, layer in spans:
        top, bottom = max(float(top), 0.0), min(float(bottom), float(height))
        if bottom - top < SECTION_PX * 0.9:
            continue
        w = measure(title, SECTION_PX)
        mid = (top + bottom) / 2
        if side > 0:
            x = float(right) + 8.0
            tx, bracket = x + 7.0, (x - 6.0, top, x + 1.0, bottom)
        else:
            x = float(left) - 8.0
            tx, bracket = x - 7.0 - w, (x - 1.0, top, x + 6.0, bottom)
        r = (tx, mid - SECTION_PX / 2, tx + w, mid + SECTION_PX / 2)
        if not board.free(r) or not board.free(bracket, margin=0.0):
            continue
        board.take(r)
        board.take(bracket)
        out.append(SectionLabel(title, kind, x, top, bottom, SECTION_PX, tx, w, side, layer))
    return out
