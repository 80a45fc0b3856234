"""One frame, the same in the window and headless: clear, the 3D scene of a Drawing, then the
imgui draw data the UI built. GL only: it reads what it is given and writes nothing back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import moderngl
from imgui_bundle import imgui

from ..scene.drawing import Drawing
from .flow_renderer import FlowRenderer
from .imgui_renderer import ImguiRenderer
from .scene_renderer import BACKGROUND, SceneRenderer
from .ubo import GLOBALS_BINDING, GLOBALS_SIZE, frame_globals

T = TypeVar("T")


class FrameRenderer:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.scene = SceneRenderer(ctx)
        self.flows = FlowRenderer(ctx)
        self.imgui = ImguiRenderer(ctx)
        self.globals = ctx.buffer(reserve=GLOBALS_SIZE)  # the frame's camera, for every draw

    def render(
        self, drawing: Drawing, build_ui: Callable[[], T], scene: bool = True
    ) -> tuple[T, float]:
        """Draw into the bound framebuffer; build_ui() makes the imgui frame (between
        new_frame and render) and its result is returned with the frame's milliseconds, GPU
        work included. scene=False draws only the clear and the UI (the benchmark's
        baseline)."""
        self.scene.sync(drawing)  # a new model's upload is not part of the frame time
        start = time.perf_counter()
        self.ctx.viewport = (0, 0, drawing.width, drawing.height)
        self.ctx.clear(*BACKGROUND, depth=1.0)
        if scene:
            anchor, block = frame_globals(drawing)
            self.globals.write(block)
            self.globals.bind_to_uniform_block(GLOBALS_BINDING)
            self.scene.draw(drawing, anchor)
            self.flows.draw(drawing, anchor)  # after the boxes: depth tested against them
        imgui.new_frame()
        result = build_ui()
        imgui.render()
        self.imgui.render(imgui.get_draw_data())
        self.ctx.finish()  # count the GPU work in the frame time
        return result, (time.perf_counter() - start) * 1e3

    def release(self) -> None:
        self.scene.release()
        self.flows.release()
        self.imgui.release()
        self.globals.release()
