"""One frame, the same in the window and headless: clear, the 3D scene, then the imgui UI."""

from __future__ import annotations

import time

import moderngl

from ..scene.hover import HoverTracker
from ..session.state import AppState
from .imgui_renderer import ImguiRenderer
from .scene_renderer import BACKGROUND, SceneRenderer


class FrameRenderer:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.scene = SceneRenderer(ctx)
        self.imgui = ImguiRenderer(ctx)
        self._scene_of: tuple | None = None
        self.hover = HoverTracker()

    def sync(self, state: AppState) -> None:
        """Re-upload the scene when the model (or its trace) changed."""
        m = state.model
        key = (id(m.scene), id(m.trace), id(m.display), state.colors.normalise)
        if key != self._scene_of:
            shown = m.display if m.display is not None else m.params
            self.scene.set_scene(m.scene, m.trace, shown, state.colors.normalise)
            self._scene_of = key
        state.legend = self.scene.legend

    def render(self, state: AppState, draw_ui, scene: bool = True) -> object:
        """Draw into the bound framebuffer; draw_ui(state) builds the imgui frame and returns
        its actions. scene=False draws only the clear and the UI (the benchmark's baseline)."""
        from imgui_bundle import imgui

        self.sync(state)
        start = time.perf_counter()
        state.hover = self.hover.update(state)
        entries = list(state.walk.cells) if state.walk is not None else []
        if state.link_hover:  # words hovered in the walkthrough text: light their tensors
            from ..walkthrough.timeline import expand

            entries += [(k, 1, -1, -1, -1, -1) for k in expand(state.model.scene, state.link_hover)]
        entries += state.hover.highlights if state.hover else []
        self.scene.set_highlights(entries[-32:])
        self.ctx.viewport = (0, 0, state.width, state.height)
        self.ctx.clear(*BACKGROUND, depth=1.0)
        if scene:
            self.scene.draw(state.camera, state.width, state.height, state.colors, state.walk)
        imgui.new_frame()
        actions = draw_ui(state)
        imgui.render()
        self.imgui.render(imgui.get_draw_data())
        self.ctx.finish()  # count the GPU work in the frame time
        state.frame_ms = (time.perf_counter() - start) * 1e3
        return actions

    def release(self) -> None:
        self.scene.release()
        self.imgui.release()
