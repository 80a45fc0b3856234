"""Where tensor titles and token letters go on screen (pure: scene + camera -> placements).

Titles sit just above their box, sized with the box's on-screen scale, and are dropped when
too small to read or off screen; token letters are centred in the cells of the token rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera

MIN_PX = 9.0  # smaller text is unreadable: hide it
MAX_PX = 26.0


@dataclass(frozen=True)
class Label:
    text: str
    x: float  # pixel position of the text's left edge (titles) or centre (tokens)
    y: float  # pixel position of the text's baseline-ish bottom
    size: float  # font size in pixels
    kind: str  # "title" or "token"
    box: str  # the box's name


CHAR_WIDTH = 0.52  # average glyph advance of the UI font, in font sizes


@dataclass(frozen=True)
class TitleRoom:
    """Free world space around each box for its title (cached per scene)."""

    above: np.ndarray  # vertical gap above the box's top edge
    above_width: np.ndarray  # width available above: left edge to the next box to the right
    right_width: np.ndarray  # width available right of the box, along its top rows
    left_width: np.ndarray  # width available left of the box, along its top rows


def title_room(scene) -> TitleRoom:
    return scene.cached("_title_room", lambda: _title_room(scene))


def _title_room(scene) -> TitleRoom:
    o = np.array([b.origin for b in scene.boxes], float).reshape(-1, 3)
    sz = np.array([b.size for b in scene.boxes], float).reshape(-1, 3)
    cell = float(getattr(scene, "cell", 1.0))
    left, right, top, bottom = o[:, 0], o[:, 0] + sz[:, 0], o[:, 1], o[:, 1] - sz[:, 1]
    n = len(o)
    above, above_w, right_w, left_w = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    far = 40.0 * cell  # "nothing near": room for any title
    for i in range(n):
        x_overlap = (left < right[i]) & (right > left[i])
        higher = x_overlap & (bottom >= top[i] - 1e-9)
        higher[i] = False
        above[i] = (bottom[higher] - top[i]).min() if higher.any() else far
        band = (top > top[i] - 1e-9) & (bottom < top[i] + above[i])  # boxes beside the band
        to_right = band & (left > left[i] + 1e-9)
        above_w[i] = (left[to_right].min() - left[i]) if to_right.any() else far
        rows = (top > top[i] - 3 * cell) & (bottom < top[i])  # boxes beside the top rows
        beside = rows & (left >= right[i] - 1e-9)
        beside[i] = False
        right_w[i] = (left[beside].min() - right[i]) if beside.any() else far
        before = rows & (right <= left[i] + 1e-9)
        before[i] = False
        left_w[i] = (left[i] - right[before].max()) if before.any() else far
    room = TitleRoom(
        above,
        np.maximum(above_w - cell, 0),
        np.maximum(right_w - cell, 0),
        np.maximum(left_w - cell, 0),
    )
    return room


def place_labels(scene, camera: Camera, width: int, height: int, token_text=None) -> list[Label]:
    """token_text: {box name: list of per-column strings} for the token rows."""
    boxes = scene.boxes
    if not boxes:
        return []
    # anchor: top-left-front corner of each box; scale: one cell's height on screen
    anchors = np.array([b.origin for b in boxes], float)
    cell = float(getattr(scene, "cell", 1.0))
    proj = camera.project(anchors, width, height)
    depth = proj[:, 2]
    with np.errstate(divide="ignore"):
        wpp = np.where(depth > 0, camera.world_per_pixel(height, 1.0) * depth, np.inf)
    cell_px = cell / wpp
    # vectorised prefilter: only boxes in front, on screen and big enough get a Python loop
    sizes = np.array([b.size for b in boxes], float)
    scale = np.minimum(np.maximum(sizes[:, 0], sizes[:, 1]) / cell, 24.0) ** 0.5
    title_px = np.minimum(cell_px * 0.9 * scale, MAX_PX)
    box_px = sizes[:, 0] / wpp
    room = title_room(scene)
    candidates = (depth > 0) & ((title_px >= MIN_PX) | (cell_px * 0.8 >= MIN_PX))
    candidates &= (proj[:, 0] <= width) & (proj[:, 1] >= 0)
    candidates &= (proj[:, 0] + box_px >= 0) & (proj[:, 1] - sizes[:, 1] / wpp <= height)
    out: list[Label] = []
    for i in np.flatnonzero(candidates):
        box = boxes[i]
        x, y = proj[i, 0], proj[i, 1]
        token_px = min(cell_px[i] * 0.8, 40.0)
        if token_text and box.name in token_text and token_px >= MIN_PX:
            centres = np.array(
                [
                    [box.origin[0] + (j + 0.5) * cell, box.origin[1] - 0.5 * cell, box.origin[2]]
                    for j in range(box.cols)
                ]
            )
            pc = camera.project(centres, width, height)
            for j, text in enumerate(token_text[box.name][: box.cols]):
                if 0 <= pc[j, 0] <= width and 0 <= pc[j, 1] <= height:
                    out.append(Label(text, pc[j, 0], pc[j, 1], token_px, "token", box.name))
        # titles grow with the box (sqrt of its size in cells, capped) and go above it when the
        # gap there fits them, else beside its top-right corner; too small to read: hidden
        chars = CHAR_WIDTH * len(box.title)
        up = min(title_px[i], room.above[i] / wpp[i] * 0.8, room.above_width[i] / wpp[i] / chars)
        side = min(title_px[i], room.right_width[i] / wpp[i] / chars)
        if up >= MIN_PX and 0 <= y <= height + up:
            out.append(Label(box.title, x, y - 0.15 * up, float(up), "title", box.name))
        elif side >= MIN_PX and 0 <= y <= height:
            xr = x + box_px[i] + 0.3 * side
            out.append(Label(box.title, xr, y + side, float(side), "title", box.name))
        else:  # right-aligned, ending just left of the box
            lside = min(title_px[i], room.left_width[i] / wpp[i] / chars)
            if lside >= MIN_PX and 0 <= y <= height:
                xl = x - (chars + 0.3) * lside
                out.append(Label(box.title, xl, y + lside, float(lside), "title", box.name))
    return _without_collisions(out)


def _without_collisions(labels: list[Label]) -> list[Label]:
    """Drop titles that overlap a larger title on screen (token letters always stay)."""
    kept: list[Label] = []
    rects: list[tuple[float, float, float, float]] = []
    for label in sorted(labels, key=lambda lb: (lb.kind != "token", -lb.size)):
        if label.kind == "token":
            kept.append(label)
            continue
        w = CHAR_WIDTH * len(label.text) * label.size
        r = (label.x, label.y - label.size, label.x + w, label.y)
        if any(r[0] < q[2] and q[0] < r[2] and r[1] < q[3] and q[1] < r[3] for q in rects):
            continue
        rects.append(r)
        kept.append(label)
    return kept


# ---- section labels: the flow of the model at a glance, readable at every zoom ----------------

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
SECTION_PX = 15.0


@dataclass(frozen=True)
class SectionLabel:
    text: str
    kind: str  # embedding, attention, mlp, output
    x: float  # pixel x of the bracket
    y_top: float
    y_bottom: float
    size: float


def sections(scene) -> list[tuple[str, str, float, float]]:
    """(title, kind, top y, bottom y) of each section, in order: Embedding, Layer i ·
    self-attention, Layer i · MLP, ..., Output. Cached on the (immutable) scene."""
    return scene.cached("_sections", lambda: _sections(scene))


def _sections(scene) -> list[tuple[str, str, float, float]]:
    spans: dict[tuple, list[float]] = {}
    order: list[tuple] = []
    for box in scene.boxes:
        kind = SECTION_OF_GROUP.get(box.group)
        if kind is None:
            continue
        key = (box.layer, kind)
        top, bottom = box.origin[1], box.origin[1] - box.size[1]
        if key not in spans:
            spans[key] = [top, bottom]
            order.append(key)
        else:
            spans[key][0] = max(spans[key][0], top)
            spans[key][1] = min(spans[key][1], bottom)
    heads = scene.config.n_head
    titles = {
        "embedding": "Embedding",
        "attention": f"self-attention · {heads} head{'s' if heads > 1 else ''}",
        "mlp": "MLP",
        "output": "Output · logits -> probabilities",
    }
    out = []
    for layer, kind in order:
        title = titles[kind] if layer is None else f"Layer {layer + 1} · {titles[kind]}"
        out.append((title, kind, *spans[(layer, kind)]))
    return out


def place_sections(scene, camera: Camera, width: int, height: int) -> list[SectionLabel]:
    """Brackets with titles just right of the model, for sections tall enough on screen."""
    lo, hi = scene.bounds
    x_world = float(hi[0]) + 6.0 * float(getattr(scene, "gap", 2.0))
    secs = sections(scene)
    if not secs:
        return []
    ends = np.array([[[x_world, top, 0.0], [x_world, bottom, 0.0]] for _, _, top, bottom in secs])
    projected = camera.project(ends.reshape(-1, 3), width, height).reshape(-1, 2, 3)
    out = []
    for (title, kind, _, _), pts in zip(secs, projected, strict=True):
        if (pts[:, 2] <= 0).any():
            continue
        y_top, y_bottom = float(pts[0, 1]), float(pts[1, 1])
        if y_bottom - y_top < SECTION_PX * 0.9 or y_bottom < 0 or y_top > height:
            continue
        x = float(pts[:, 0].max())
        if not 0 <= x <= width - 40:
            continue
        out.append(SectionLabel(title, kind, x, y_top, y_bottom, SECTION_PX))
    return out
