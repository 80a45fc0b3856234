"""Where the camera looks: the named views of a scene and framing into the free area between
the panels (pure: a scene and a window size in, a Camera out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera, CameraError
from .layout import Scene

CAMERA_PRESETS = ("overview", "front", "top-layer", "output")
PANEL_PX = 340.0  # the model panel's width at the default font size
SECTION_LABEL_PX = 220.0  # room for the section labels right of the model
RIGHT_PANEL_PX = 450.0  # the walkthrough panel (27 em at 16 px, plus margins)
TOP_BAR_PX = 40.0  # the collapsed Analysis panel's title bar across the top of the free area


def free_area(width: int) -> tuple[float, float]:
    """Pixel columns between the model panel (left) and the walkthrough panel (right); the
    whole width when the window is too narrow for both."""
    if width > PANEL_PX + RIGHT_PANEL_PX + 300:
        return PANEL_PX, width - RIGHT_PANEL_PX
    return 0.0, float(width)


def camera_preset(name: str, scene: Scene, width: int, height: int, panels: bool = True) -> Camera:
    """Named views of a scene. 'overview' shows the whole model, turned slightly so the slabs
    read as 3D."""
    lo, hi = np.asarray(scene.bounds[0], float), np.asarray(scene.bounds[1], float)
    if name == "overview":
        # the model and its section labels (right of it) centred between the panels, and
        # below the Analysis title bar
        top = TOP_BAR_PX if panels and height > 4 * TOP_BAR_PX else 0.0
        margin = 1.04 * height / (height - top)
        cam = Camera(yaw=-14.0, pitch=6.0).framing(lo, hi, width, height, margin=margin)
        left, right = free_area(width) if panels else (0.0, float(width))
        centre = (left + right) / 2 - SECTION_LABEL_PX / 2
        return cam.panned(centre - width / 2, top / 2, height)
    if name == "front":
        return Camera().framing(lo, hi, width, height, margin=1.02)
    if name in ("top-layer", "output"):
        height_span = hi[1] - lo[1]
        frac = (0.0, 0.3) if name == "top-layer" else (0.8, 1.0)
        top = hi[1] - frac[0] * height_span
        bottom = hi[1] - frac[1] * height_span
        sub_lo, sub_hi = lo.copy(), hi.copy()
        sub_lo[1], sub_hi[1] = bottom, top
        return Camera(yaw=-12.0, pitch=6.0).framing(sub_lo, sub_hi, width, height)
    raise CameraError(f"unknown camera preset {name!r} (choose from {', '.join(CAMERA_PRESETS)})")


def parse_camera(text: str, scene: Scene, width: int, height: int, panels: bool = True) -> Camera:
    """A preset name or a JSON object (fields target, distance, yaw, pitch, fov)."""
    text = text.strip()
    if text.startswith("{"):
        return Camera.from_json(text)
    return camera_preset(text, scene, width, height, panels)


def frame_boxes(
    lo: np.ndarray,
    hi: np.ndarray,
    width: int,
    height: int,
    yaw: float = -10.0,
    pitch: float = 5.0,
    margin: float = 1.25,
) -> Camera:
    """A view of the bounds lo..hi filling the free area between the panels (not under them)."""
    left, right = free_area(width)
    cam = Camera(yaw=yaw, pitch=pitch).framing(lo, hi, int(right - left), height, margin=margin)
    return cam.panned((left + right) / 2 - width / 2, 0.0, height)


@dataclass(frozen=True)
class Framing:
    """The framing function the walkthrough is given: named views and box framing for one
    window size (so the walkthrough needs no app state to place its camera)."""

    width: int
    height: int

    def preset(self, name: str, scene: Scene) -> Camera:
        return camera_preset(name, scene, self.width, self.height)

    def boxes(self, lo, hi, yaw: float, pitch: float, margin: float) -> Camera:
        return frame_boxes(
            np.asarray(lo), np.asarray(hi), self.width, self.height, yaw, pitch, margin
        )
