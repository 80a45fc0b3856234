"""One moment of the walkthrough as data (WalkFrame), and the helpers the timeline and the
animations share: which boxes a glob names, which boxes are computed, sub-intervals of a step."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import numpy as np

from ..scene.camera import Camera
from ..scene.drawing import Ghost, Highlight, Motion, Note, Stroke, Tile
from ..scene.framing import Framing

ORDER_CODE = {"columns": 0, "rows": 1, "cells": 2, "all": 3}
FADED_ALPHA = 0.16


@dataclass
class WalkFrame:
    chapter: str
    step: int
    progress: float
    camera: Camera
    reveal: dict[int, tuple[float, int]] = field(default_factory=dict)  # box -> (fraction, order)
    alpha: dict[int, float] = field(default_factory=dict)  # box -> opacity (missing: 1)
    highlight: set[int] = field(default_factory=set)  # boxes emphasised by the step
    cells: list[Highlight] = field(default_factory=list)  # cell highlights for the renderer
    ghosts: list[Ghost] = field(default_factory=list)
    tiles: list[Tile] = field(default_factory=list)  # free-standing numbers (the arithmetic)
    notes: list[Note] = field(default_factory=list)  # numbers and words written in the scene
    strokes: list[Stroke] = field(default_factory=list)  # curves and lines over the scene
    caption: list[str] = field(default_factory=list)  # live numbers under the step text
    bars: list[tuple[str, float]] | None = None  # next-token probabilities (sample step)
    model: str | None = None  # the model this moment shows (None: the app's)
    t: int = 0  # token position in focus
    step_camera: Camera | None = None  # the camera the step flies to (its own view)
    framing: Framing | None = None  # for animations whose camera follows the action

    @property
    def motion(self) -> Motion:
        """The boxes' part of this moment, for the renderer."""
        return Motion(self.reveal, self.alpha, self.highlight, self.ghosts, self.tiles)


def expand(scene, globs) -> list[int]:
    """Box indices matching any glob, in scene (computation) order."""
    out = []
    for k, box in enumerate(scene.boxes):
        if any(fnmatch.fnmatchcase(box.name, g) for g in globs):
            out.append(k)
    return out


def expand_ordered(scene, globs) -> list[int]:
    """Box indices in the order the globs list them (each glob's matches in scene order)."""
    out: list[int] = []
    for g in globs:
        out += [k for k in expand(scene, [g]) if k not in out]
    return out


def computed(scene, k: int) -> bool:
    """Intermediate values (and token rows) are computed; weights are always there."""
    return scene.boxes[k].kind != "weight"


def phase(p: float, a: float, b: float) -> float:
    """Progress within the sub-interval [a, b] of a step, clamped to 0..1."""
    return float(np.clip((p - a) / (b - a), 0.0, 1.0))


def reveal_sequence(frame: WalkFrame, boxes: list[int], p: float, order: int) -> None:
    """Each box in turn gets an equal share of the progress and sweeps in."""
    n = len(boxes)
    for k, b in enumerate(boxes):
        frame.reveal[b] = (phase(p, k / n, (k + 1) / n), order)
