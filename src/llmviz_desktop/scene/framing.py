"""Where the camera looks: the named views of a scene and framing into the free area between
the panels (pure: a scene and a window size in, a Camera out)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .camera import Camera, CameraError
from .layout import Scene

CAMERA_PRESETS = ("overview", "front", "top-layer", "output")
EM_PX = 16.0  # the UI font's size: panels are sized in em (ui/), placed here in pixels
MIN_FREE_PX = 160.0  # narrower or lower than this, the free area is the whole window

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in framebuffer pixels, y down


def default_panels(width: int, height: int, em: float = EM_PX) -> tuple[Rect, ...]:
    """Where the panels stand when the window opens (ui/dock.py places them; the UI reports
    the real rectangles each frame, and this is the estimate for a first frame and for
    headless renders): the model panel top-left with the collapsed "Watch it learn" bar
    under it at the bottom, the walkthrough panel top-right, the collapsed Analysis bar
    along the top between them (em sizes as in ui/dock.py)."""
    pad = float(int(0.8 * em))  # imgui places windows on whole pixels
    bar = em + 6.0  # a collapsed panel's title bar: the font and its frame padding
    left = (pad, pad, pad + 21 * em, pad + 23 * em)
    right_x = float(int(width - 0.8 * em - 27 * em))
    right = (right_x, pad, right_x + 27 * em, pad + 15 * em)
    x0, x1 = left[2] + pad, right[0] - pad
    spare = max(x1 - x0 - 36 * em, 0.0)
    top = (x0 + spare / 2, pad, x1 - spare / 2, pad + bar)
    learn = (pad, height - pad - bar, left[2], height - pad)
    return left, top, right, learn


def free_rect(width: int, height: int, panels: tuple[Rect, ...] | list[Rect]) -> Rect:
    """The area the camera frames: the columns between the panels docked left and those docked
    right, below the bars along the top and above those along the bottom. When panels leave
    no such room (one spread over the middle), the largest rectangle no panel covers; the
    whole window when even that is too small to frame anything."""
    full: Rect = (0.0, 0.0, float(width), float(height))
    shown = [
        (max(x0, 0.0), max(y0, 0.0), min(x1, width), min(y1, height))
        for x0, y0, x1, y1 in panels
        if x1 > x0 and y1 > y0 and x1 > 0 and y1 > 0 and x0 < width and y0 < height
    ]
    left = max([r[2] for r in shown if (r[0] + r[2]) / 2 < width / 3], default=0.0)
    right = min([r[0] for r in shown if (r[0] + r[2]) / 2 > 2 * width / 3], default=width)
    middle = [r for r in shown if r[0] < right and r[2] > left]
    top = max([r[3] for r in middle if (r[1] + r[3]) / 2 < height / 2], default=0.0)
    bottom = min([r[1] for r in middle if (r[1] + r[3]) / 2 >= height / 2], default=height)
    columns: Rect = (left, top, right, bottom)
    if _roomy(columns) and not any(_overlap(columns, r) for r in shown):
        return columns
    largest = _largest_empty(width, height, shown)
    return largest if _roomy(largest) else full


def _roomy(r: Rect) -> bool:
    return r[2] - r[0] >= MIN_FREE_PX and r[3] - r[1] >= MIN_FREE_PX


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _largest_empty(width: int, height: int, shown: list[Rect]) -> Rect:
    """The largest axis-aligned rectangle of the window that no rectangle in `shown` covers."""
    xs = sorted({0.0, float(width), *(v for r in shown for v in (r[0], r[2]))})
    best: Rect = (0.0, 0.0, 0.0, 0.0)
    area = 0.0
    for i, x0 in enumerate(xs):
        for x1 in xs[i + 1 :]:
            blocked = sorted((r[1], r[3]) for r in shown if r[0] < x1 and r[2] > x0)
            y = 0.0
            for b0, b1 in [*blocked, (float(height), float(height))]:
                if b0 > y and (x1 - x0) * (b0 - y) > area:
                    best, area = (x0, y, x1, b0), (x1 - x0) * (b0 - y)
                y = max(y, b1)
    return best


def free_area(width: int, height: int = 720) -> tuple[float, float]:
    """The pixel columns of the free area the panels leave when the window opens."""
    r = free_rect(width, height, default_panels(width, height))
    return r[0], r[2]


def frame_into(
    base: Camera, lo, hi, width: int, height: int, rect: Rect, margin: float = 1.1
) -> Camera:
    """`base` turned to look at the bounds lo..hi, at the distance that fits them inside
    `rect` (not the whole window), and moved so they appear at the rectangle's centre."""
    fw, fh = max(rect[2] - rect[0], 1.0), max(rect[3] - rect[1], 1.0)
    cam = base.framing(lo, hi, int(round(fw)), int(round(fh)), margin=margin)
    # framing() used the whole vertical field of view for fh pixels; rect has fh of height
    cam = replace(cam, distance=cam.distance * height / fh)
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    return cam.panned(cx - width / 2, cy - height / 2, height)


OPENING_YAW, OPENING_PITCH = -40.0, 28.0  # degrees: the opening view's direction
OPENING_GROUPS = ("attention",)  # what it frames, of the first layer: its heads


def _view_of(scene: Scene, name: str) -> tuple[Camera, np.ndarray, np.ndarray, float]:
    """(direction, bounds to frame, margin) of a named view."""
    lo, hi = np.asarray(scene.bounds[0], float), np.asarray(scene.bounds[1], float)
    if name == "overview":
        # a three-quarter view from above onto the first layer's self-attention (its heads
        # one behind another), the rest of the stack receding below it
        first = [b for b in scene.boxes if b.layer == 0 and b.group in OPENING_GROUPS]
        if first:
            lo = np.min([b.min_corner for b in first], axis=0)
            hi = np.max([b.max_corner for b in first], axis=0)
        return Camera(yaw=OPENING_YAW, pitch=OPENING_PITCH), lo, hi, 1.04
    if name == "front":
        return Camera(), lo, hi, 1.02
    if name in ("top-layer", "output"):
        height_span = hi[1] - lo[1]
        frac = (0.0, 0.3) if name == "top-layer" else (0.8, 1.0)
        sub_lo, sub_hi = lo.copy(), hi.copy()
        sub_lo[1], sub_hi[1] = hi[1] - frac[1] * height_span, hi[1] - frac[0] * height_span
        return Camera(yaw=-12.0, pitch=6.0), sub_lo, sub_hi, 1.1
    raise CameraError(f"unknown camera preset {name!r} (choose from {', '.join(CAMERA_PRESETS)})")


def camera_preset(
    name: str,
    scene: Scene,
    width: int,
    height: int,
    panels: bool = True,
    free: Rect | None = None,
) -> Camera:
    """A named view of a scene framed into the free area (`free`; by default the one the
    panels leave when the window opens), or into the whole image with panels=False."""
    if free is None:
        full: Rect = (0.0, 0.0, float(width), float(height))
        free = free_rect(width, height, default_panels(width, height)) if panels else full
    base, lo, hi, margin = _view_of(scene, name)
    return frame_into(base, lo, hi, width, height, free, margin)


def parse_camera(text: str, scene: Scene, width: int, height: int, panels: bool = True) -> Camera:
    """A preset name or a JSON object (fields target, distance, yaw, pitch, fov)."""
    text = text.strip()
    if text.startswith("{"):
        return Camera.from_json(text)
    return camera_preset(text, scene, width, height, panels)


@dataclass(frozen=True)
class Framing:
    """The framing function the walkthrough is given: named views and box framing into the
    free area of one window size (so the walkthrough needs no app state for its camera)."""

    width: int
    height: int
    free: Rect | None = None  # None: the free area the panels leave when the window opens

    @property
    def rect(self) -> Rect:
        if self.free is not None:
            return self.free
        return free_rect(self.width, self.height, default_panels(self.width, self.height))

    def preset(self, name: str, scene: Scene) -> Camera:
        return camera_preset(name, scene, self.width, self.height, free=self.rect)

    def boxes(self, lo, hi, yaw: float, pitch: float, margin: float) -> Camera:
        base = Camera(yaw=yaw, pitch=pitch)
        return frame_into(base, lo, hi, self.width, self.height, self.rect, margin)
