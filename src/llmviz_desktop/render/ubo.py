"""Uniform blocks, each defined once here as a numpy std140 dtype (the GLSL twin is in
shaders/common.glsl). std140: vec4 and mat4 columns align to 16 bytes; a mat4 is stored as four
column vectors, so a (mathematical) matrix M is written as M.T in row-major numpy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..scene.drawing import Drawing

GLOBALS_BINDING = 0

GLOBALS = np.dtype(
    [
        ("view_proj", "<f4", (4, 4)),  # mat4: clip = view_proj * world
        ("eye", "<f4", 4),  # xyz: camera position; w: world units per pixel at distance 1
        ("viewport", "<f4", 4),  # width, height, 1/width, 1/height in pixels
        ("color", "<f4", 4),  # x: scale (0 linear, 1 symlog); y: symlog linear range;
        #                      z: gridline strength 0..1; w: unused
    ]
)

# Expected std140 byte offsets, written out by hand from the rules (checked by the tests
# against both this dtype and the GL driver's own layout of the block).
GLOBALS_OFFSETS = {"view_proj": 0, "eye": 64, "viewport": 80, "color": 96}
GLOBALS_SIZE = 112


def pack_globals(
    view_proj: np.ndarray,
    eye: np.ndarray,
    world_per_pixel: float,
    width: int,
    height: int,
    symlog: bool = False,
    symlog_range: float = 0.02,
    grid: float = 1.0,
) -> bytes:
    g = np.zeros((), GLOBALS)
    g["view_proj"] = np.asarray(view_proj, np.float32).T  # column-major for GLSL
    g["eye"] = (*np.asarray(eye, np.float32)[:3], world_per_pixel)
    g["viewport"] = (width, height, 1.0 / max(width, 1), 1.0 / max(height, 1))
    g["color"] = (1.0 if symlog else 0.0, symlog_range, grid, 0.0)
    return g.tobytes()


def frame_globals(drawing: Drawing) -> tuple[np.ndarray, bytes]:
    """(anchor, Globals block) of one frame, shared by every draw in it. Everything is drawn
    camera-relative: gpt3 spans ~6e7 units, beyond float32's cell precision, so positions are
    uploaded minus an anchor at the camera target (in float64) and the camera is moved by it."""
    camera, colors = drawing.camera, drawing.colors
    anchor = np.round(np.asarray(camera.target, float))
    lo, hi = np.asarray(drawing.scene.bounds[0]), np.asarray(drawing.scene.bounds[1])
    radius = float(np.linalg.norm(hi - lo) / 2)  # the clip planes enclose the scene
    local = replace(camera, target=tuple(np.asarray(camera.target) - anchor))
    block = pack_globals(
        local.view_projection(drawing.width, drawing.height, radius),
        local.eye(),
        camera.world_per_pixel(drawing.height, 1.0),
        drawing.width,
        drawing.height,
        colors.symlog,
        colors.symlog_range,
        colors.grid,
    )
    return anchor, block


# Per-instance attributes of the tensor-box draw (a vertex buffer, not a uniform block).
BOX_INSTANCE = np.dtype(
    [
        ("origin", "<f4", 3),  # min corner (x, y, z) in world units
        ("size", "<f4", 3),  # extent (w, h, d)
        ("cells", "<f4", 2),  # cols, rows
        ("tex", "<f4", 2),  # atlas texel of cell (0, 0); x = -1: no values (shell), -2: a tile
        ("style", "<f4", 4),  # kind (0 weight, 1 intermediate, 2 aggregate, 3 token),
        #                       alpha, 1 / max|value| (normaliser), heads merged
        ("anim", "<f4", 4),  # reveal fraction (1: all computed), reveal order (0 columns,
        #                      1 rows, 2 cells, 3 all), highlight (0/1), a tile's value
        ("lod", "<f4", 2),  # cells per texel (cols, rows): big tensors are uploaded averaged
    ]
)
BOX_INSTANCE_FORMAT = "3f 3f 2f 2f 4f 4f 2f/i"
BOX_INSTANCE_ATTRS = ("in_origin", "in_size", "in_cells", "in_tex", "in_style", "in_anim", "in_lod")


# Cells to highlight (hover, its row and column, the source cells of its formula).
HIGHLIGHTS_BINDING = 1
MAX_HIGHLIGHTS = 32
HIGHLIGHTS = np.dtype(
    [
        ("count", "<i4", 4),  # x: entries in use
        ("box", "<f4", (MAX_HIGHLIGHTS, 4)),  # x: box index, y: role (0 cell, 1 line, 2 source)
        ("range", "<f4", (MAX_HIGHLIGHTS, 4)),  # row0, row1, col0, col1 (half-open); -1: all
    ]
)
HIGHLIGHTS_OFFSETS = {"count": 0, "box": 16, "range": 16 + 16 * MAX_HIGHLIGHTS}
HIGHLIGHTS_SIZE = 16 + 2 * 16 * MAX_HIGHLIGHTS


def pack_highlights(entries) -> bytes:
    """entries: (box index, role, row0, row1, col0, col1) tuples; at most MAX_HIGHLIGHTS."""
    h = np.zeros((), HIGHLIGHTS)
    entries = list(entries)[:MAX_HIGHLIGHTS]
    h["count"] = (len(entries), 0, 0, 0)
    for k, (box, role, r0, r1, c0, c1) in enumerate(entries):
        h["box"][k] = (box, role, 0, 0)
        h["range"][k] = (r0, r1, c0, c1)
    return h.tobytes()
