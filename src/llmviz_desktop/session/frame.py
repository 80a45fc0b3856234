"""What one frame shows, derived from the state by app.tick (never stored in it): the renderer
draws its Drawing, the panels read the rest."""

from __future__ import annotations

from dataclasses import dataclass

from ..scene.drawing import Drawing
from ..scene.framing import Rect
from ..scene.hover import HoverInfo
from ..walkthrough.timeline import WalkFrame
from .loaded import LoadedModel


@dataclass
class Frame:
    model: LoadedModel  # the model shown: home, or the walkthrough step's own
    walk: WalkFrame | None  # this moment of the walkthrough (None outside it)
    hover: HoverInfo | None  # what the pinned cell or the cursor shows
    legend: dict[str, float]  # kind -> |value| at full colour, as drawn
    drawing: Drawing  # everything the renderer needs
    free_area: Rect  # x0, y0, x1, y1: the part of the window no panel covers, the camera's
