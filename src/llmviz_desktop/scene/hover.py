"""What the cursor points at: the cell, its explanation, what to highlight and the links to
draw (pure: a model, the cursor and the camera in, HoverInfo out; the renderer and the UI only
draw it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from .build import build_scene
from .camera import Camera
from .drawing import Highlight, Role, highlight
from .explain import Explanation, explain
from .layout import Scene
from .picking import CellHit, pick_cell
from .scale import card_of, prefix


@dataclass
class HoverInfo:
    hit: CellHit
    explanation: Explanation
    highlights: list[Highlight] = field(default_factory=list)
    links: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # world from, to


def _cell_centre(box, row: float, col: float) -> np.ndarray:
    ox, oy, oz = box.origin
    ch, cw = box.size[1] / box.rows, box.size[0] / box.cols
    return np.array([ox + (col + 0.5) * cw, oy - (row + 0.5) * ch, oz])


@cache
def _own_scene(config) -> Scene:
    """A model's own scene, for explaining its boxes inside a scene of several models."""
    return build_scene(config)


def explain_in(scene, name: str, row: int, col: int, trace, params) -> Explanation:
    """explain(), for a scene of several models (the scale scene) too: a box is explained in
    its own model's scene, with its own config, and the names it reads are the scene's."""
    found = card_of(scene, name)
    if found is None:
        return explain(scene, name, row, col, trace, params)
    card, local = found
    ex = explain(_own_scene(card.config), local, row, col, None, None)
    pre = prefix(card.model)
    sources = tuple(replace(s, box=pre + s.box) for s in ex.sources)
    return replace(ex, box=name, sources=sources)


def hover_info(scene, hit: CellHit, trace, params) -> HoverInfo:
    box = scene.boxes[hit.box_index]
    ex = explain_in(scene, box.name, hit.row, hit.col, trace, params)
    i, r, c = hit.box_index, hit.row, hit.col
    entries = [
        highlight(i, Role.LINE, rows=(r, r + 1)),  # the hovered cell's row and column
        highlight(i, Role.LINE, cols=(c, c + 1)),
    ]
    links = []
    here = _cell_centre(hit.box, r, c)
    index = scene.index_of
    for src in ex.sources:
        k = index.get(src.box)
        if k is None:
            continue
        box = scene.boxes[k]
        entries.append(highlight(k, Role.SOURCE, src.rows, src.cols))
        r0, r1 = src.rows if src.rows is not None else (-1, -1)
        c0, c1 = src.cols if src.cols is not None else (-1, -1)
        mid_r = (r0 + r1 - 1) / 2 if r0 >= 0 else (box.rows - 1) / 2
        mid_c = (c0 + c1 - 1) / 2 if c0 >= 0 else (box.cols - 1) / 2
        there = _cell_centre(box, mid_r, mid_c)
        if k != i or np.linalg.norm(there - here) > 1e-9:
            links.append((there, here))
    entries.append(highlight(i, Role.CELL, (r, r + 1), (c, c + 1)))  # last: wins over the rest
    return HoverInfo(hit, ex, entries, links)


class HoverTracker:
    """Picks the cell under the cursor each frame and explains it, caching by cell so a
    still cursor costs one ray test."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._info: HoverInfo | None = None

    def update(
        self,
        model,
        pinned: CellHit | None,
        mouse: tuple[float, float] | None,
        camera: Camera,
        width: int,
        height: int,
    ) -> tuple[HoverInfo | None, CellHit | None]:
        """(what the pinned cell or the cursor shows, the pin still valid: None when it was
        made in another scene)."""
        if pinned is not None:  # a pin only means something in the scene it was made in
            boxes = model.scene.boxes
            same = pinned.box_index < len(boxes) and (
                boxes[pinned.box_index].name,
                boxes[pinned.box_index].rows,
                boxes[pinned.box_index].cols,
            ) == (pinned.box.name, pinned.box.rows, pinned.box.cols)
            if not same:
                pinned = None
        hit: CellHit | None
        if pinned is not None:
            hit = pinned
        elif mouse is None:
            return None, pinned
        else:
            hit = pick_cell(model.scene, camera, mouse[0], mouse[1], width, height)
        if hit is None:
            self._key, self._info = None, None
            return None, pinned
        key = (id(model.scene), id(model.trace), hit.box_index, hit.row, hit.col)
        if key != self._key:
            self._key = key
            self._info = hover_info(model.scene, hit, model.trace, model.params)
        else:
            assert self._info is not None
            self._info.hit = hit
        return self._info, pinned
