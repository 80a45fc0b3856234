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


Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Tile:
    """One number standing free in the scene, where the walkthrough does arithmetic: an input
    value lifted out of its tensor, a product, a running sum, a probability bar. Drawn as a
    box of one cell with the value's colour, on the colour scale of the box `like`."""

    at: Vec3  # centre, world units
    value: float
    like: int  # the box whose colour ramp and scale it takes
    size: Vec3 = (1.0, 1.0, 1.0)  # world units (one cell is 1)
    kind: int | None = None  # a colour ramp of its own (0 weight, 1 intermediate, 2 aggregate)
    norm: float | None = None  # a scale of its own: 1 / the |value| drawn at full colour
    lit: bool = False  # outlined as the thing in focus
    alpha: float = 1.0


@dataclass(frozen=True)
class Note:
    """A number or a few words written in the scene at a world point: drawn over the picture
    where the point projects, beside it on the side asked for (scene/labels.py places it)."""

    text: str
    at: Vec3
    side: str = "above"  # above, below, left, right, centre
    size: float = 15.0  # pixels
    strong: bool = False  # the result of the moment: brighter, outlined


@dataclass(frozen=True)
class Stroke:
    """A line through world points drawn over the scene (a curve, an arrow, a merge), with an
    optional dot at each point (the GELU curve with the column's values on it)."""

    points: tuple[Vec3, ...]
    color: tuple[float, float, float, float] = (1.0, 0.84, 0.35, 0.95)
    width: float = 2.0  # pixels
    dots: tuple[Vec3, ...] = ()
    dot_px: float = 3.0


@dataclass
class Motion:
    """How boxes appear at this moment (the walkthrough's part of a frame)."""

    reveal: dict[int, tuple[float, int]] = field(default_factory=dict)  # box -> (fraction, order)
    alpha: dict[int, float] = field(default_factory=dict)  # box -> opacity (missing: 1)
    highlight: set[int] = field(default_factory=set)  # boxes emphasised by the step
    ghosts: list[Ghost] = field(default_factory=list)
    tiles: list[Tile] = field(default_factory=list)


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
