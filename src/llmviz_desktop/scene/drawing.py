"""What the renderer is given for one frame (pure data): the scene and its prepared values, the
camera, colours, the walkthrough's motion of boxes and the cell highlights. The renderer draws
a Drawing and nothing else; app.tick builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from .camera import Camera
from .colors import ColorSettings
from .flow import Flows
from .layout import Scene
from .values import BoxValues


class Role(IntEnum):
    """How a highlighted range is drawn (the tensor_boxes shader reads these numbers)."""

    CELL = 0  # the cell in focus: accent and outline
    LINE = 1  # its row and column: lightened
    SOURCE = 2  # what it is computed from: orange accent and outline


class Highlight(NamedTuple):
    """A highlighted range of one box; -1 bounds mean the whole axis."""

    box: int
    role: Role
    row0: int = -1
    row1: int = -1
    col0: int = -1
    col1: int = -1


def highlight(box: int, role: Role, rows=None, cols=None) -> Highlight:
    """A Highlight from (start, stop) ranges; None means the whole axis."""
    r0, r1 = rows if rows is not None else (-1, -1)
    c0, c1 = cols if cols is not None else (-1, -1)
    return Highlight(box, role, r0, r1, c0, c1)


@dataclass(frozen=True)
class Ghost:
    """A column of one box flying to a column of another (embedding lookup, the token loop)."""

    src: int  # box index
    src_col: int
    dst: int
    dst_col: int
    t: float  # 0 at the source, 1 at the destination


@dataclass
class Motion:
    """How boxes appear at this moment (the walkthrough's part of a frame)."""

    reveal: dict[int, tuple[float, int]] = field(default_factory=dict)  # box -> (fraction, order)
    alpha: dict[int, float] = field(default_factory=dict)  # box -> opacity (missing: 1)
    highlight: set[int] = field(default_factory=set)  # boxes emphasised by the step
    ghosts: list[Ghost] = field(default_factory=list)


@dataclass
class Drawing:
    scene: Scene
    values: BoxValues  # what each box shows (uploaded again when this object changes)
    camera: Camera
    width: int
    height: int
    colors: ColorSettings
    motion: Motion | None = None
    highlights: list[Highlight] = field(default_factory=list)
    flows: Flows | None = None  # the data-flow paths (scene/flow.py), None: not drawn
    flow_emphasis: np.ndarray | None = None  # per path then join, 0..1 (flow_emphasis())
