"""The values every box shows, prepared for upload (pure numpy): each tensor's matrix, averaged
down where it is too big to draw cell by cell (level of detail), packed into one float atlas
(shelf packing, so one instanced draw can read any cell), with the colour normalisers and the
legend they give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .colors import legend_from, normalisers

ATLAS_WIDTH = 4096


class AtlasError(ValueError):
    pass


def pack(matrices: list[np.ndarray | None], width: int = ATLAS_WIDTH):
    """Place each [rows, cols] matrix; returns (atlas float32 [H, W], positions [(x, y) or None]).
    Tallest first on shelves, so little space is wasted."""
    present = {i: m for i, m in enumerate(matrices) if m is not None}
    order = sorted(present, key=lambda i: -present[i].shape[0])
    positions: list[tuple[int, int] | None] = [None] * len(matrices)
    placed: dict[int, tuple[int, int]] = {}
    x = y = shelf = 0
    for i in order:
        rows, cols = present[i].shape
        if cols > width:
            raise AtlasError(f"tensor {i} has {cols} columns; the atlas is {width} wide")
        if x + cols > width:
            x, y, shelf = 0, y + shelf, 0
        positions[i] = placed[i] = (x, y)
        x += cols
        shelf = max(shelf, rows)
    height = max(y + shelf, 1)
    atlas = np.zeros((height, width), np.float32)
    for i in order:
        m, (px, py) = present[i], placed[i]
        atlas[py : py + m.shape[0], px : px + m.shape[1]] = m
    return atlas, positions


TEXEL_BUDGET = 6 << 20  # float texels for all values (24 MB); big tensors are averaged
MIN_BOX_TEXELS = 1 << 16


def downsample(m: np.ndarray, max_texels: int, max_cols: int) -> tuple[np.ndarray, tuple]:
    """Block-average a matrix until it fits (level of detail for big tensors): returns the
    small matrix and the (cols, rows) cells per texel. Masked -inf cells stay -inf only where a
    whole block is masked."""
    rows, cols = m.shape
    fx = fy = 1
    while -(-rows // fy) * -(-cols // fx) > max_texels or -(-cols // fx) > max_cols:
        if -(-cols // fx) >= -(-rows // fy):
            fx *= 2
        else:
            fy *= 2
    if fx == fy == 1:
        return m, (1.0, 1.0)
    R, C = -(-rows // fy), -(-cols // fx)
    total = np.zeros((R, C), np.float64)
    count = np.zeros((R, C), np.float64)
    for r0 in range(0, rows, fy * 256):  # a band of block-rows at a time: no full-size copy
        band = m[r0 : r0 + fy * 256]
        nr = -(-band.shape[0] // fy)
        padded = np.zeros((nr * fy, C * fx), np.float32)
        ok = np.isfinite(band)
        padded[: band.shape[0], :cols] = np.where(ok, band, 0.0)
        seen = np.zeros((nr * fy, C * fx), np.float32)
        seen[: band.shape[0], :cols] = ok
        rb = r0 // fy
        total[rb : rb + nr] = padded.reshape(nr, fy, C, fx).sum(axis=(1, 3))
        count[rb : rb + nr] = seen.reshape(nr, fy, C, fx).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        small = np.where(count > 0, total / count, -np.inf)  # wholly masked blocks stay masked
    return small.astype(np.float32), (float(fx), float(fy))


@dataclass(frozen=True)
class BoxValues:
    atlas: np.ndarray  # float32 [H, ATLAS_WIDTH]
    positions: list[tuple[int, int] | None]  # per box: where its matrix sits in the atlas
    lods: list[tuple[float, float]]  # per box: (cols, rows) of cells averaged into one texel
    norms: list[float]  # per box: 1 / the |value| drawn at full colour
    legend: dict[str, float]  # kind -> |value| at full colour (for the UI)


def prepare_values(scene, trace=None, params=None, normalise: str = "tensor") -> BoxValues:
    """Every drawn value of a scene (none without a trace: a render-only shell)."""
    with_values = [b for b in scene.boxes if trace is not None and b.source is not None]
    per_box = max(MIN_BOX_TEXELS, TEXEL_BUDGET // max(len(with_values), 1))
    matrices: list[np.ndarray | None] = []
    lods: list[tuple[float, float]] = []
    for box in scene.boxes:  # one tensor at a time: full-size copies never pile up
        if trace is None or box.source is None:
            matrices.append(None)
            lods.append((1.0, 1.0))
            continue
        small, lod = downsample(box.source.view(trace, params), per_box, ATLAS_WIDTH)
        matrices.append(small)
        lods.append(lod)
    atlas, positions = pack(matrices)
    norms = normalisers(scene, matrices, normalise)
    legend = legend_from(scene, norms, [m is not None for m in matrices])
    return BoxValues(atlas, positions, lods, norms, legend)
