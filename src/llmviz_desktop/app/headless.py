"""The headless front end: an EGL context, an offscreen target, the frame renderer and a
headless imgui, driven by the same tick as the window (`llmviz render`, video export, soak)."""

from __future__ import annotations

import numpy as np

from ..render.context import MSAA_SAMPLES, headless_context, msaa_samples
from ..render.frame import FrameRenderer
from ..render.offscreen import Offscreen
from ..scene.framing import free_rect
from ..session.state import AppState
from ..ui.headless import HeadlessUI
from ..ui.panels import draw_ui
from ..walkthrough.chapters import load_chapters
from ..walkthrough.player import Player
from .tick import Frame, Ticker

SETTLE_FRAMES = 6  # at most, until the panels stand still


class HeadlessSession:
    """samples: multisample anti-aliasing as in the window (4x where the driver offers it,
    none where it does not); 0 turns it off."""

    def __init__(self, width: int, height: int, samples: int = MSAA_SAMPLES):
        self.width, self.height = width, height
        self.ctx = headless_context()
        self.target = Offscreen(self.ctx, width, height, msaa_samples(self.ctx, samples))
        self.ui = HeadlessUI(width, height)
        self.frame = FrameRenderer(self.ctx)
        self.ticker = Ticker()
        self.last: Frame | None = None  # the frame drawn last (reports read it)

    def render(self, state: AppState, dt: float = 0.0) -> np.ndarray:
        """Tick the state by dt seconds, draw it, and read the image back (RGBA rows from the
        top)."""
        ctl = state.controllers
        if ctl.player is None:  # as in the window: the walkthrough panel, chapter not chosen
            ctl.player = Player(load_chapters())
        frame = self.last = self.ticker.tick(state, dt)
        self.target.use()
        self._settle(state, frame)
        if state.view.show_ui and state.view.panels is not None:
            free = free_rect(state.view.width, state.view.height, state.view.panels)
            if free != frame.free_area:  # as the window's next frame: framed for the panels
                frame = self.last = self.ticker.tick(state, 0.0)
                self._settle(state, frame)
        return self.target.read()

    def _settle(self, state: AppState, frame: Frame) -> None:
        """Draw `frame`. imgui sizes an auto-resized window from the previous frame's content,
        and the dock (ui/dock.py) places panels from their last heights: with panels shown,
        frames are drawn until the panels stand still, so every moment's picture is
        independent of the last."""
        placed = None
        for _ in range(SETTLE_FRAMES if state.view.show_ui else 1):
            self.ui.new_frame()
            _, state.stats.frame_ms = self.frame.render(
                frame.drawing, lambda: draw_ui(state, frame)
            )
            if placed is not None and state.view.panels == placed:
                break
            placed = state.view.panels

    def release(self) -> None:
        self.frame.release()
        self.target.release()
        self.ui.release()
        self.ctx.release()
