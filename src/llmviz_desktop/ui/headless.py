"""An imgui context for headless frames: fixed display size, fixed frame time, no input."""

from __future__ import annotations

from imgui_bundle import imgui, implot

from .imgui_input import load_default_font

FRAME_TIME = 1.0 / 60.0
FONT_PX = 16.0


def create_ui_context() -> None:
    """A new imgui context with our font and no imgui.ini written to the working directory."""
    imgui.create_context()
    implot.create_context()  # the training curves
    io = imgui.get_io()
    io.set_ini_filename("")  # panel positions are not written to the working directory
    # a panel that raises is unwound by ui.panels.guarded: recover quietly, no assert
    io.config_error_recovery = True
    io.config_error_recovery_enable_assert = False
    io.config_error_recovery_enable_tooltip = False
    io.set_log_filename("")
    load_default_font(FONT_PX)
    style = imgui.get_style()
    style.window_rounding = 6.0
    style.frame_rounding = 4.0
    style.window_border_size = 0.0
    style.set_color_(imgui.Col_.window_bg, imgui.ImVec4(0.07, 0.08, 0.11, 0.92))


class HeadlessUI:
    def __init__(self, width: int, height: int):
        create_ui_context()
        self.width, self.height = width, height

    def new_frame(self) -> None:
        io = imgui.get_io()
        io.display_size = imgui.ImVec2(float(self.width), float(self.height))
        io.display_framebuffer_scale = imgui.ImVec2(1.0, 1.0)
        io.delta_time = FRAME_TIME

    def release(self) -> None:
        implot.destroy_context()
        imgui.destroy_context()
