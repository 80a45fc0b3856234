"""Ray against tensor boxes on the CPU (vectorised slab test over every box's bounds)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import TensorBox


def box_aabbs(scene) -> tuple[np.ndarray, np.ndarray]:
    """[N, 3] min and max corners of every box, computed once per scene."""

    def corners() -> tuple[np.ndarray, np.ndarray]:
        a = scene.aabbs()
        return a[:, 0], a[:, 1]

    return scene.cached("_aabbs", corners)


MIN_PX = 1.5  # the renderer draws every box at least this many pixels across


def pick_box(scene, origin: np.ndarray, direction: np.ndarray, wpp_at_1: float | None = None):
    """Nearest box hit by the ray: (index, hit point, distance) or None. With wpp_at_1 (world
    units per pixel at distance 1), boxes are grown to MIN_PX on screen exactly as the
    tensor_boxes shader grows them, so what is drawn can be picked."""
    lo3, hi3 = box_aabbs(scene)
    if len(lo3) == 0:
        return None
    # per-axis rows [3, N]: numpy reduces over a short last axis slowly (~8x here)
    lo, hi = _axis_major(scene, lo3, hi3)
    o = np.asarray(origin, float)
    if wpp_at_1 is not None:
        dist2 = np.zeros(lo.shape[1])
        for a in range(3):
            gap = np.clip(o[a], lo[a], hi[a]) - o[a]  # eye to the box's nearest point
            dist2 += gap * gap
        px = wpp_at_1 * np.maximum(np.sqrt(dist2), 1e-3)
        grow = np.maximum(MIN_PX * px - (hi - lo), 0.0) * 0.5  # [3, N]
        lo, hi = lo - grow, hi + grow
    near = np.full(lo.shape[1], -np.inf)
    far = np.full(lo.shape[1], np.inf)
    for a in range(3):  # slab test; a zero direction component becomes tiny: no 0 * inf
        inv = 1.0 / (direction[a] if direction[a] != 0.0 else 1e-200)
        t1 = (lo[a] - o[a]) * inv
        t2 = (hi[a] - o[a]) * inv
        np.maximum(near, np.minimum(t1, t2), out=near)
        np.minimum(far, np.maximum(t1, t2), out=far)
    hit = (near <= far) & (far > 0)
    if not hit.any():
        return None
    t = np.where(hit, np.maximum(near, 0.0), np.inf)
    i = int(np.argmin(t))
    return i, o + direction * t[i], float(t[i])


def _axis_major(scene, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return scene.cached(
        "_aabbs_axis_major", lambda: (np.ascontiguousarray(lo.T), np.ascontiguousarray(hi.T))
    )


@dataclass(frozen=True)
class CellHit:
    box_index: int
    box: TensorBox
    row: int  # drawn cell (row, col)
    col: int
    point: np.ndarray  # world hit point
    distance: float  # along the ray


def cell_at(box, point: np.ndarray) -> tuple[int, int]:
    """The cell of `box` containing a point on (or in) it: floor of the local coordinates,
    clamped so a hit exactly on the far edge belongs to the last cell."""
    ox, oy, _ = box.origin
    cell = box.size[0] / box.cols
    col = int(np.floor((point[0] - ox) / cell))
    row = int(np.floor((oy - point[1]) / (box.size[1] / box.rows)))
    return min(max(row, 0), box.rows - 1), min(max(col, 0), box.cols - 1)


def pick_cell(scene, camera, x: float, y: float, width: int, height: int) -> CellHit | None:
    """The cell under pixel (x, y): nearest box along the camera ray, then the cell there."""
    eye, direction = camera.ray(x, y, width, height)
    hit = pick_box(scene, eye, direction, camera.world_per_pixel(height, 1.0))
    if hit is None:
        return None
    index, point, distance = hit
    box = scene.boxes[index]
    row, col = cell_at(box, point)
    return CellHit(index, box, row, col, point, distance)
