"""The application state, split by who writes it (no GL, no imgui):

- `home`: the model the user chose, with their input (switching models and training or replay
  replace it; nothing else does);
- `view`: what is looked at and how (camera, window size, colours, what is shown);
- `pointer`: where the cursor is and the pinned cell;
- `messages`: one-line status, the input field's complaint, the error log;
- `controllers`: the walkthrough player, training / replay, the superposition demo;
- `stats`: frame timing, written by the frame loop only.

What is drawn each frame (the model shown, hover, walkthrough moment, legend) is not stored
here: app.tick derives it as a Frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..demos.superposition import SuperpositionDemo
from ..scene.camera import Camera
from ..scene.colors import ColorSettings
from ..scene.framing import Rect
from ..scene.picking import CellHit
from ..walkthrough.player import Player
from .learning import Learning
from .loaded import LoadedModel


@dataclass
class View:
    camera: Camera
    width: int = 1280
    height: int = 720
    colors: ColorSettings = field(default_factory=ColorSettings)
    show_help: bool = False
    show_labels: bool = True
    show_ui: bool = True  # the panels (labels are separate): off for clean captures
    show_stats: bool = True  # fps / frame time in the panel (off for reproducible images)
    show_param_overlay: bool = False  # the Parameters tab's 3D count labels
    hud: str = ""  # a caption drawn over the scene (replay step, video export)
    # the panels' rectangles in pixels, as the UI drew them last frame (None: not drawn yet,
    # scene/framing.default_panels stands in), and the window size and free area the
    # camera was last framed for (app.tick re-frames an untouched view when they change)
    panels: tuple[Rect, ...] | None = None
    framed_for: tuple[int, int, Rect] | None = None


@dataclass
class Pointer:
    mouse: tuple[float, float] | None = None  # cursor in framebuffer pixels, None: outside
    pinned: CellHit | None = None  # the cell whose tooltip stays (click; Esc frees)
    title_hover: str | None = None  # name of the box whose title is under the cursor (ui)
    link_hover: tuple[str, ...] | None = None  # tensor globs of the text link under the cursor


@dataclass
class Messages:
    status: str = ""  # one-line message shown in the panel (errors, hints)
    input_error: str = ""  # why the last typed input was refused
    errors: list[str] = field(default_factory=list)  # one line per failure inside the app


@dataclass
class Controllers:
    player: Player | None = None  # walkthrough playback (None: no chapters)
    learning: Learning | None = None  # live training and checkpoint replay (app only)
    superposition: SuperpositionDemo | None = None  # the near-orthogonality demo window


@dataclass
class Stats:
    fps: float = 0.0
    frame_ms: float = 0.0
    idle: bool = False  # the window redraws at its idle rate (app/pacing.py)


@dataclass
class AppState:
    home: LoadedModel
    view: View
    pointer: Pointer = field(default_factory=Pointer)
    messages: Messages = field(default_factory=Messages)
    controllers: Controllers = field(default_factory=Controllers)
    stats: Stats = field(default_factory=Stats)

    @classmethod
    def create(
        cls, home: LoadedModel, camera: Camera, width: int = 1280, height: int = 720, **view
    ) -> AppState:
        """A state showing `home` through `camera`; other View fields by keyword."""
        return cls(home, View(camera, width, height, **view))
