"""Packs every tensor's drawn matrix into one float texture (shelf packing), so one
instanced draw can read any cell with texelFetch."""

from __future__ import annotations

import numpy as np

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
