"""The scale scene: several models side by side in one scene at one scale, each with a card
(pure: configs in, a Scene and screen text out).

    scene = build_scale_scene()             # nano-sort, gpt2, gpt2-xl, gpt3, tops aligned
    scene["gpt2/h.0.mlp.fc"]                # each model's boxes, names prefixed "<model>/"
    overlay = scale_overlay(scene, camera, width, height, free_rect)  # cards, labels (pixels)

Every model is its render-only shell (build_scene(cfg)) moved sideways, never rescaled: a cell
is one world unit in each, so their sizes compare truly. Left to right from the smallest; the
gap between two neighbours is a share of the wider one, so the row keeps its proportions at
every zoom. Box names, and the names each box reads (its inputs), get the model's prefix;
layer, head and group are kept, so per-layer and per-section labels still work.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

import numpy as np

from ..model.activations import Read
from ..model.config import preset
from ..model.counts import count_params
from .boxes import ModelCard, Scene, TensorBox
from .build import CELL, build_scene
from .camera import Camera
from .subject import projected_rects

SCALE_SPEC = "scale"  # the model spec session/loaded.py turns into this scene
SCALE_MODELS = ("nano-sort", "gpt2", "gpt2-xl", "gpt3")  # smallest first, left to right
TITLES = {
    "nano-sort": "nano-sort (ours)",
    "gpt2": "GPT-2 small",
    "gpt2-medium": "GPT-2 medium",
    "gpt2-large": "GPT-2 large",
    "gpt2-xl": "GPT-2 XL",
    "gpt3": "GPT-3",
}
GAP_SHARE = 0.05  # the gap between two neighbours: this share of the wider one's width


def prefix(model: str) -> str:
    return f"{model}/"


def _short(n: int) -> str:
    """85,728 -> '86 thousand', 175,221,817,344 -> '175 billion' (3 significant digits)."""
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return str(n)


def card_lines(model: str) -> tuple[str, tuple[str, ...]]:
    """(title, lines) of a model's card: layers and heads, width C, context, parameters (the
    numbers from its config and model/counts.py)."""
    cfg = preset(model)
    total = count_params(cfg).total
    return TITLES.get(model, model), (
        f"{_short(total)} parameters",
        f"{cfg.n_layer} layers · {cfg.n_head} heads",
        f"C = {cfg.n_embd:,}",  # apart from the context: a narrow card fits between models
        f"context {cfg.block_size:,}",
        f"{total:,}",
    )


def _moved(box: TensorBox, pre: str, dx: float, dy: float) -> TensorBox:
    x, y, z = box.origin
    return replace(
        box,
        name=pre + box.name,
        origin=(x + dx, y + dy, z),
        inputs=tuple(Read(r.role, pre + r.name) for r in box.inputs),
    )


def build_scale_scene(models: tuple[str, ...] = SCALE_MODELS) -> Scene:
    """One scene holding every model's shell side by side at one scale, tops aligned at y = 0,
    spines at z = 0, with a card per model (Scene.cards; Scene.models lists them)."""
    if not models:
        raise ValueError("the scale scene needs at least one model")
    scenes = [build_scene(preset(m)) for m in models]
    boxes: list[TensorBox] = []
    cards: list[ModelCard] = []
    right, prev_width = 0.0, 0.0
    for k, (model, scene) in enumerate(zip(models, scenes, strict=True)):
        lo, hi = (np.asarray(b, float) for b in scene.bounds)
        width = float(hi[0] - lo[0])
        gap = GAP_SHARE * max(width, prev_width) if k else 0.0
        dx, dy = right + gap - float(lo[0]), -float(hi[1])  # left edge after the gap; top at 0
        boxes += [_moved(b, prefix(model), dx, dy) for b in scene.boxes]
        title, lines = card_lines(model)
        m_lo = (float(lo[0] + dx), float(lo[1] + dy), float(lo[2]))
        m_hi = (float(hi[0] + dx), float(hi[1] + dy), float(hi[2]))
        stack = [b for b in scene.boxes if b.layer is not None] or list(scene.boxes)
        stack_top = max(b.origin[1] for b in stack) + dy  # below the token table
        anchor = (m_lo[0], float(stack_top), m_hi[2])
        cards.append(ModelCard(model, title, lines, anchor, m_lo, m_hi, scene.config))
        right, prev_width = m_hi[0], width
    last = scenes[-1]
    return Scene(
        config=last.config.replace(name=SCALE_SPEC),
        boxes=tuple(boxes),
        cell=CELL,
        n_tokens=max(s.n_tokens for s in scenes),
        gap=last.gap,
        heads_merged=last.heads_merged,
        cards=tuple(cards),
    )


def card_of(scene: Scene, box_name: str) -> tuple[ModelCard, str] | None:
    """(the card of the model a box belongs to, the box's name in that model's own scene), or
    None when the scene holds one model (e.g. to explain a hovered box with its own config)."""
    for card in scene.cards:
        if box_name.startswith(prefix(card.model)):
            return card, box_name[len(prefix(card.model)) :]
    return None


def model_boxes(scene: Scene, model: str) -> list[int]:
    """Indices of one model's boxes in a scale scene."""
    glob = prefix(model) + "*"
    return scene.cached(
        f"_boxes_{model}",
        lambda: [k for k, b in enumerate(scene.boxes) if fnmatch.fnmatchcase(b.name, glob)],
    )


# ---- text on screen: the cards and the per-layer / per-section labels ------------------------


@dataclass(frozen=True)
class CardLabel:
    """One line of a model card: drawn `size` pixels tall (readable at every zoom), stacked
    below the card's world anchor (line 0, the title, on top)."""

    text: str
    anchor: tuple[float, float, float]  # world point the card's top-left stands at
    size: float  # pixels
    line: int  # 0: the title
    model: str


CARD_TITLE_PX = 16.0
CARD_LINE_PX = 12.0
CHAR_WIDTH = 0.52  # average glyph advance of the UI font, in font sizes (as labels.py)
LINE_GAP = 1.25  # line pitch in font sizes
CARD_PAD = 5.0  # pixels of background around a card's text


def card_labels(scene: Scene) -> list[CardLabel]:
    """Every card's lines: text, world anchor and pixel size (empty for a one-model scene)."""
    out = []
    for card in scene.cards:
        out.append(CardLabel(card.title, card.anchor, CARD_TITLE_PX, 0, card.model))
        out += [
            CardLabel(text, card.anchor, CARD_LINE_PX, k + 1, card.model)
            for k, text in enumerate(card.lines)
        ]
    return out


@dataclass(frozen=True)
class ScaleText:
    """Text placed on screen: left edge x, top y (pixels, y down), font size in pixels."""

    text: str
    x: float
    y: float
    size: float
    kind: str  # "card-title", "card", "layer" (a layer's name), "section" (within a layer)
    model: str


@dataclass(frozen=True)
class Leader:
    """A thin line from a card to the top of the model it describes (pixels)."""

    x0: float
    y0: float
    x1: float
    y1: float
    model: str


@dataclass(frozen=True)
class ScaleOverlay:
    """What the UI draws over a scale scene: card backgrounds (x0, y0, x1, y1, pixels; an
    opaque-ish panel behind each card's text), the texts, and leader lines."""

    cards: list[tuple[float, float, float, float]]
    texts: list[ScaleText]
    leaders: list[Leader]


MIN_LABEL_PX = 9.0  # smaller text is unreadable: skipped (as labels.py)
MAX_LABEL_PX = 14.0
SECTION_TITLES = {"attention": "attention", "mlp": "MLP"}
SECTION_OF_GROUP = {
    "ln_1": "attention",
    "attention": "attention",
    "projection": "attention",
    "ln_2": "mlp",
    "mlp": "mlp",
}


def layer_spans(scene: Scene, model: str) -> list[tuple[str, str, float, float]]:
    """(text, kind, top y, bottom y) of the embedding, each layer, each layer's attention and
    MLP, and the output of one model of a scale scene (world units), in order."""
    return scene.cached(f"_spans_{model}", lambda: _layer_spans(scene, model))


def _layer_spans(scene: Scene, model: str) -> list[tuple[str, str, float, float]]:
    spans: dict[tuple, list[float]] = {}
    for k in model_boxes(scene, model):
        box = scene.boxes[k]
        top, bottom = box.origin[1], box.origin[1] - box.size[1]
        keys: list[tuple] = []
        if box.layer is None:
            keys.append(("Output" if box.group in ("ln_f", "output") else "Embedding", "layer"))
        else:
            keys.append((f"Layer {box.layer + 1}", "layer"))
            section = SECTION_OF_GROUP.get(box.group)
            if section:
                keys.append((SECTION_TITLES[section], f"section {box.layer}"))
        for key in keys:
            if key in spans:
                spans[key] = [max(spans[key][0], top), min(spans[key][1], bottom)]
            else:
                spans[key] = [top, bottom]
    return [(text, kind.split()[0], t, b) for (text, kind), (t, b) in spans.items()]


def column_x(scene: Scene, model: str) -> tuple[float, float]:
    """World x range of one model's layers (its column, without the wide token table)."""

    def compute() -> tuple[float, float]:
        boxes = [scene.boxes[k] for k in model_boxes(scene, model)]
        inside = [b for b in boxes if b.layer is not None] or boxes
        return min(b.min_corner[0] for b in inside), max(b.max_corner[0] for b in inside)

    return scene.cached(f"_column_{model}", compute)


def scale_overlay(
    scene: Scene,
    camera: Camera,
    width: int,
    height: int,
    rect: tuple[float, float, float, float] | None = None,
) -> ScaleOverlay:
    """The cards and the layer / section labels of a scale scene on screen, for the UI to draw
    (pure: the scene and camera in, pixels out; empty for a one-model scene).

    A card stands beside its own model in free space inside `rect` (the free area; default the
    whole image): never over any model's boxes or another card, as near its model's top as the
    free space allows, with a leader line when it stands apart. A card with no such place is
    not drawn. The models framed whole are placed first. Layers are named down the right side
    of each model's column where their span on screen fits the text (so at a far zoom only
    every few layers are named, like a ruler), and a layer's attention and MLP when the layer
    is tall enough; nothing overlaps a card, another label, or the next model's column."""
    out = ScaleOverlay([], [], [])
    if not scene.cards:
        return out
    rect = rect or (0.0, 0.0, float(width), float(height))
    taken: list[tuple[float, float, float, float]] = []
    _place_cards(scene, camera, width, height, rect, taken, out)
    cards = sorted(scene.cards, key=lambda c: c.lo[0])
    for k, card in enumerate(cards):
        limit = column_x(scene, cards[k + 1].model)[0] if k + 1 < len(cards) else None
        _layer_texts(scene, card, limit, camera, width, height, rect, taken, out)
    return out


def _card_size(card: ModelCard) -> tuple[float, float]:
    """Pixel width and height of a card (text and padding)."""
    sizes = [CARD_TITLE_PX] + [CARD_LINE_PX] * len(card.lines)
    texts = [card.title, *card.lines]
    w = max(CHAR_WIDTH * len(t) * s for t, s in zip(texts, sizes, strict=True))
    return w + 2 * CARD_PAD, sum(s * LINE_GAP for s in sizes) + 2 * CARD_PAD


def _overlaps(r, rects) -> bool:
    return any(r[0] < q[2] and q[0] < r[2] and r[1] < q[3] and q[1] < r[3] for q in rects)


GRID_PX = 4.0  # the free area is searched for a card's place on a grid of this pitch
NEAR_PX = (8.0, 20.0, 40.0, 72.0)  # how far a card may stand from its model, nearest first
LEADER_PX = 12.0  # a card further than this from its model gets a line to it
SPECK_PX = 16.0  # a model smaller than this on screen is a speck: its card always points to it
CARD_MARGIN_PX = 4.0  # kept clear between a card and any box or other card


def _coverage(rects: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Summed-area table [rows + 1, cols + 1] of how many rects (grid units, unclipped) cover
    each grid cell: any rect touching a cell covers it, so a speck still counts."""
    grid = np.zeros((rows + 1, cols + 1), np.int64)
    if len(rects):
        x0 = np.clip(np.floor(rects[:, 0]), 0, cols).astype(int)
        y0 = np.clip(np.floor(rects[:, 1]), 0, rows).astype(int)
        x1 = np.clip(np.ceil(np.maximum(rects[:, 2], rects[:, 0] + 1e-6)), 0, cols).astype(int)
        y1 = np.clip(np.ceil(np.maximum(rects[:, 3], rects[:, 1] + 1e-6)), 0, rows).astype(int)
        keep = (x1 > x0) & (y1 > y0)
        x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
        np.add.at(grid, (y0, x0), 1)
        np.add.at(grid, (y0, x1), -1)
        np.add.at(grid, (y1, x0), -1)
        np.add.at(grid, (y1, x1), 1)
        grid = grid.cumsum(0).cumsum(1)  # how many rects cover each cell
    sat = np.zeros((rows + 1, cols + 1), np.int64)
    sat[1:, 1:] = grid[:rows, :cols].cumsum(0).cumsum(1)
    return sat


def _window_sums(sat: np.ndarray, h: int, w: int, pad: int) -> np.ndarray:
    """[i, j]: how much is covered in the window of h x w cells at row i, column j, grown by
    `pad` cells on every side (clipped to the grid), for every place the window fits."""
    rows, cols = sat.shape[0] - 1, sat.shape[1] - 1
    i = np.arange(rows - h + 1)[:, None]
    j = np.arange(cols - w + 1)[None, :]
    i0, j0 = np.clip(i - pad, 0, rows), np.clip(j - pad, 0, cols)
    i1, j1 = np.clip(i + h + pad, 0, rows), np.clip(j + w + pad, 0, cols)
    return sat[i1, j1] - sat[i0, j1] - sat[i1, j0] + sat[i0, j0]


def boxes_reaching(scene: Scene, camera: Camera, width, height, rect):
    """(projected pixel rects [N, 4] of every box, [N] whether each is in front of the eye,
    [N] whether it is in front and reaches into rect: the boxes a card must keep off)."""
    rects, front = projected_rects(scene, camera, width, height, list(range(len(scene.boxes))))
    x0, y0, x1, y1 = rect
    on = (
        front
        & (rects[:, 2] >= x0)
        & (rects[:, 0] <= x1)
        & (rects[:, 3] >= y0)
        & (rects[:, 1] <= y1)
    )
    return rects, front, on


def _place_cards(scene: Scene, camera: Camera, width, height, rect, taken, out) -> None:
    rects, front, on = boxes_reaching(scene, camera, width, height, rect)
    x0, y0, x1, y1 = rect
    cols, rows = int((x1 - x0) // GRID_PX), int((y1 - y0) // GRID_PX)
    if cols < 1 or rows < 1:
        return
    origin = np.array([x0, y0, x0, y0])
    grid = (rects - origin) / GRID_PX
    margin = CARD_MARGIN_PX / GRID_PX
    grown = grid + np.array([-margin, -margin, margin, margin])
    owner = {card.model: np.asarray(model_boxes(scene, card.model), int) for card in scene.cards}

    def framed(card: ModelCard) -> tuple[float, float]:
        """(share of the model's boxes on screen in the free area, its screen area): the
        models a step frames whole get their cards first, the smallest of them first (a
        speck has the fewest places beside it)."""
        ks = owner[card.model]
        r = rects[ks][front[ks]]
        if not len(r):
            return 0.0, 0.0
        inside = (r[:, 0] >= x0) & (r[:, 2] <= x1) & (r[:, 1] >= y0) & (r[:, 3] <= y1)
        area = (r[:, 2].max() - r[:, 0].min()) * (r[:, 3].max() - r[:, 1].min())
        return round(float(inside.sum()) / len(ks), 2), -float(area)

    order = sorted(scene.cards, key=lambda c: tuple(-v for v in framed(c)))
    for card in order:
        ks = owner[card.model]
        own = ks[on[ks]]
        if not len(own):
            continue  # the model is not in the free area
        w, h = _card_size(card)
        cw, ch = int(np.ceil(w / GRID_PX)), int(np.ceil(h / GRID_PX))
        if cw > cols or ch > rows:
            continue
        placed = (np.array(taken).reshape(-1, 4) - origin) / GRID_PX
        blocked = np.concatenate([grown[on], placed + np.array([-1, -1, 1, 1]) * margin])
        free = _window_sums(_coverage(blocked, rows, cols), ch, cw, 0) == 0
        own_sat = _coverage(grid[own], rows, cols)
        anchor = camera.project(np.array([card.anchor]), width, height)[0]
        if anchor[2] > 0:
            target = np.array([anchor[0], anchor[1]])
        else:
            target = rects[own][:, :2].min(axis=0)
        target = np.clip(target, [x0, y0], [x1, y1])
        # within reach of its own model and nearer to it than to any other (so it reads as
        # that model's card); the nearest to the model's top wins, then the closest to its boxes
        others = np.setdiff1d(np.nonzero(on)[0], own)
        other_sat = _coverage(grid[others], rows, cols)
        reach = np.zeros_like(free, dtype=float)
        rival = np.zeros_like(free, dtype=float)
        for near in reversed(NEAR_PX):
            pad = int(np.ceil(near / GRID_PX))
            reach[_window_sums(own_sat, ch, cw, pad) > 0] = near
            rival[_window_sums(other_sat, ch, cw, pad) > 0] = near
        r = rects[own]
        speck = max(r[:, 2].max() - r[:, 0].min(), r[:, 3].max() - r[:, 1].min()) < SPECK_PX
        # a speck cannot be told from what it touches: its card stands near it, with a leader
        ok = free & (reach > 0) & ((rival == 0) | (reach <= rival) | speck)
        if not ok.any():
            continue  # no free place beside its model: the card is not drawn
        ii, jj = np.nonzero(ok)
        cx0, cy0 = x0 + jj * GRID_PX, y0 + ii * GRID_PX
        gap_x = np.maximum(0.0, np.maximum(cx0 - target[0], target[0] - (cx0 + w)))
        gap_y = np.maximum(0.0, np.maximum(cy0 - target[1], target[1] - (cy0 + h)))
        score = np.hypot(gap_x, gap_y) + reach[ii, jj]
        best = int(np.argmin(score))
        x, y = float(cx0[best]), float(cy0[best])
        _card_out(card, (x, y, x + w, y + h), rects[own], taken, out, speck)


def _card_out(card: ModelCard, box, own: np.ndarray, taken, out, speck: bool) -> None:
    """The card's plate and lines, and a leader to the nearest of its model's boxes when the
    card stands apart from them."""
    x, y, x1, y1 = box
    taken.append(box)
    out.cards.append(box)
    ty = y + CARD_PAD
    for k, text in enumerate([card.title, *card.lines]):
        size = CARD_TITLE_PX if k == 0 else CARD_LINE_PX
        kind = "card-title" if k == 0 else "card"
        out.texts.append(ScaleText(text, x + CARD_PAD, ty, size, kind, card.model))
        ty += size * LINE_GAP
    cx, cy = (x + x1) / 2, (y + y1) / 2
    qx, qy = np.clip(cx, own[:, 0], own[:, 2]), np.clip(cy, own[:, 1], own[:, 3])
    px, py = np.clip(qx, x, x1), np.clip(qy, y, y1)
    d = np.hypot(qx - px, qy - py)
    k = int(np.argmin(d))
    if speck:  # a line to the speck's middle, however near
        qx[k], qy[k] = (
            (own[:, 0].min() + own[:, 2].max()) / 2,
            (own[:, 1].min() + own[:, 3].max()) / 2,
        )
    if d[k] > LEADER_PX or speck:
        out.leaders.append(
            Leader(float(px[k]), float(py[k]), float(qx[k]), float(qy[k]), card.model)
        )


def _layer_texts(scene, card: ModelCard, limit, camera: Camera, width, height, rect, taken, out):
    spans = layer_spans(scene, card.model)
    if not spans:
        return
    x_lo, x_hi = column_x(scene, card.model)
    x_world = x_hi + scene.gap * 2
    z = card.hi[2]
    ends = np.array([[[x_world, t, z], [x_world, b, z]] for _, _, t, b in spans])
    proj = camera.project(ends.reshape(-1, 3), width, height).reshape(-1, 2, 3)
    if limit is not None:  # where the next model's column begins, at the same heights
        nxt = ends.copy()
        nxt[..., 0] = limit
        right = camera.project(nxt.reshape(-1, 3), width, height).reshape(-1, 2, 3)[:, :, 0]
    last_bottom = -np.inf
    layer_px = 0.0
    for n, ((text, kind, _, _), pts) in enumerate(zip(spans, proj, strict=True)):
        if (pts[:, 2] <= 0).any():
            continue
        span_px = float(pts[1, 1] - pts[0, 1])
        if kind == "layer":
            layer_px = span_px
            size = min(MAX_LABEL_PX, 0.8 * span_px)
        elif layer_px >= 5 * MAX_LABEL_PX:  # a section, inside a layer tall enough for it
            size = min(MAX_LABEL_PX - 2, 0.8 * span_px)
        else:
            continue
        size = max(size, MIN_LABEL_PX if kind == "layer" else 0.0)
        if size < MIN_LABEL_PX:
            continue
        x = float(pts[0, 0]) + (0.0 if kind == "layer" else 4.2 * MAX_LABEL_PX)
        y = float(pts[0, 1])
        if kind == "layer" and y < last_bottom + 0.6 * size:
            continue  # too close below the last named layer: the ruler skips it
        w = CHAR_WIDTH * len(text) * size
        r = (x, y, x + w, y + size * LINE_GAP)
        end = rect[2] if limit is None else min(rect[2], float(right[n].min()) - 4.0)
        if r[0] < rect[0] or r[2] > end or r[1] < rect[1] or r[3] > rect[3]:
            continue
        if _overlaps(r, taken):
            continue
        taken.append(r)
        if kind == "layer":
            last_bottom = r[3]
        out.texts.append(ScaleText(text, x, y, size, kind, card.model))
