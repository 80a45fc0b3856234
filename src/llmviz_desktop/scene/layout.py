"""The scene description: one box per tensor, laid out in 3D (pure Python + numpy, no GL).

    scene = build_scene(cfg, trace, params)   # or build_scene(cfg) for a render-only shell
    box = scene.by_name["h.1.attn.head2.q"]
    values = box.source.matrix(trace, params)  # float32 [box.rows, box.cols]

See build.py for the geometry and boxes.py for the coordinate conventions.
"""

from .boxes import KINDS, TOKEN_KEYS, Scene, TensorBox, ValueSource
from .build import CELL, MERGE_HEADS_ABOVE, SHELL_MAX_TOKENS, build_scene, gap_cells

__all__ = [
    "CELL",
    "KINDS",
    "MERGE_HEADS_ABOVE",
    "SHELL_MAX_TOKENS",
    "TOKEN_KEYS",
    "Scene",
    "TensorBox",
    "ValueSource",
    "build_scene",
    "gap_cells",
]
