"""How well a camera frames a walkthrough step's subject (its highlighted boxes): pure, so the
render report and a test without GL measure it the same way.

Each box is measured by its 8 projected corners, unclipped. The figures are fractions of the
free area (the part of the window between the panels):
- span: the subject's bounding box, the larger of its width / free width and height / free height
- largest: the same figure for the subject's largest box alone
- inside: of the subject's projected area (box by box), the part inside the free area; a box
  reaching behind the eye counts as wholly outside
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from .camera import Camera
from .framing import Rect
from .labels import box_corners

# the must-hold of issue 15: what a framed subject reaches in the free area
MIN_SPAN, MIN_LARGEST, MIN_INSIDE = 0.40, 0.10, 0.90


@dataclass(frozen=True)
class SubjectFigures:
    tensors: list[str]
    box: list[float]  # x0, y0, x1, y1: unclipped pixels, y down (all 0 with no subject)
    span: float
    largest: float
    inside: float

    @property
    def ok(self) -> bool:
        return self.span >= MIN_SPAN and self.largest >= MIN_LARGEST and self.inside >= MIN_INSIDE

    def to_dict(self) -> dict:
        return asdict(self)


def subject_boxes(highlight: Iterable[int], alpha: dict[int, float]) -> list[int]:
    """A step's subject: its highlighted boxes that are drawn (opacity above 0)."""
    return sorted(k for k in highlight if alpha.get(k, 1.0) > 0.0)


def projected_rects(scene, camera: Camera, width: int, height: int, boxes: list[int]):
    """[n, 4] unclipped pixel rectangles of the boxes and [n] whether each is wholly in front
    of the eye (from the corners the label pass caches, labels.box_corners)."""
    corners = box_corners(scene)[np.asarray(boxes, int)]  # [n, 8, 3]
    near = camera.clip_planes()[0]
    p = camera.project(corners.reshape(-1, 3), width, height).reshape(-1, 8, 3)
    front = (p[..., 2] > near).all(axis=1)
    rects = np.concatenate([p[..., :2].min(axis=1), p[..., :2].max(axis=1)], axis=1)
    return rects, front


def measure_subject(
    scene, camera: Camera, width: int, height: int, free: Rect, boxes: list[int]
) -> SubjectFigures:
    names = [scene.boxes[k].name for k in boxes]
    if not boxes:
        return SubjectFigures(names, [0.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0)
    fw, fh = max(free[2] - free[0], 1.0), max(free[3] - free[1], 1.0)
    rects, front = projected_rects(scene, camera, width, height, boxes)
    if not front.all():  # part of the subject is behind the eye: not framed at all
        return SubjectFigures(names, [0.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0)
    x0, y0 = float(rects[:, 0].min()), float(rects[:, 1].min())
    x1, y1 = float(rects[:, 2].max()), float(rects[:, 3].max())
    span = max((x1 - x0) / fw, (y1 - y0) / fh)
    each = np.maximum((rects[:, 2] - rects[:, 0]) / fw, (rects[:, 3] - rects[:, 1]) / fh)
    area = (rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])
    ix = np.clip(np.minimum(rects[:, 2], free[2]) - np.maximum(rects[:, 0], free[0]), 0, None)
    iy = np.clip(np.minimum(rects[:, 3], free[3]) - np.maximum(rects[:, 1], free[1]), 0, None)
    inside = float((ix * iy).sum() / max(float(area.sum()), 1e-9))
    return SubjectFigures(names, [x0, y0, x1, y1], float(span), float(each.max()), inside)
