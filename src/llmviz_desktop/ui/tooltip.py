"""The hover tooltip (what a cell is, its value, how it was computed), the links from its
source cells, and the shape tooltip of a tensor title. Follows the cursor, never off-screen."""

from __future__ import annotations

import math

import numpy as np
from imgui_bundle import ImVec2, ImVec4, imgui

from ..session.frame import Frame
from ..session.state import AppState
from .palette import MUTED

ACCENT = ImVec4(1.0, 0.66, 0.26, 1.0)
KIND_COLOURS = {
    "weight": ImVec4(0.45, 0.72, 1.0, 1.0),
    "intermediate": ImVec4(0.45, 0.92, 0.55, 1.0),
    "aggregate": ImVec4(1.0, 0.84, 0.3, 1.0),
    "token": ImVec4(0.9, 0.92, 0.96, 1.0),
}


def _u32(c: ImVec4) -> int:
    return imgui.get_color_u32(c)


def _scale() -> float:
    return 1.0 / max(imgui.get_io().display_framebuffer_scale.x, 1e-3)


def _place_next_window(state: AppState, frame: Frame) -> None:
    """Beside the cursor, on whichever side keeps the window on screen."""
    assert state.pointer.mouse is not None or state.pointer.pinned is not None
    k = _scale()
    mx, my = (
        state.pointer.mouse
        if state.pointer.mouse is not None
        else (state.view.width / 2, state.view.height / 2)
    )
    if state.pointer.pinned is not None and frame.hover is not None:
        p = state.view.camera.project(frame.hover.hit.point, state.view.width, state.view.height)[0]
        mx, my = p[0], p[1]
    right, below = mx < state.view.width * 0.55, my < state.view.height * 0.5
    pos = ImVec2((mx + (18 if right else -18)) * k, (my + (18 if below else -18)) * k)
    imgui.set_next_window_pos(pos, imgui.Cond_.always, ImVec2(0 if right else 1, 0 if below else 1))
    imgui.set_next_window_bg_alpha(1.0)  # opaque: nothing behind shows through the text


# `tooltip` puts the window in imgui's tooltip layer, drawn after every panel whichever has
# focus (a focused walkthrough panel used to cover it)
FLAGS = (
    imgui.WindowFlags_.tooltip
    | imgui.WindowFlags_.no_title_bar
    | imgui.WindowFlags_.always_auto_resize
    | imgui.WindowFlags_.no_inputs
    | imgui.WindowFlags_.no_focus_on_appearing
    | imgui.WindowFlags_.no_nav
    | imgui.WindowFlags_.no_saved_settings
)


def draw_hover(state: AppState, frame: Frame) -> None:
    if frame.hover is not None:
        draw_links(state, frame)
        draw_cell_tooltip(state, frame)
    elif state.pointer.title_hover is not None and state.pointer.mouse is not None:
        draw_title_tooltip(state, frame)


def draw_links(state: AppState, frame: Frame) -> None:
    """Curves from each source region to the hovered cell, drawn over the scene."""
    info = frame.hover
    assert info is not None
    dl = imgui.get_background_draw_list()
    k = _scale()
    colour = _u32(ImVec4(1.0, 0.66, 0.26, 0.75))
    for start, end in info.links:
        pts = state.view.camera.project(np.array([start, end]), state.view.width, state.view.height)
        if (pts[:, 2] <= 0).any():
            continue
        (x0, y0), (x1, y1) = pts[0, :2] * k, pts[1, :2] * k
        bend = 0.35 * math.hypot(x1 - x0, y1 - y0)
        dl.add_bezier_cubic(
            ImVec2(x0, y0),
            ImVec2(x0 + bend, y0),
            ImVec2(x1 - bend, y1),
            ImVec2(x1, y1),
            colour,
            2.0,
        )
        dl.add_circle_filled(ImVec2(x0, y0), 3.5, colour)
    p = state.view.camera.project(info.hit.point, state.view.width, state.view.height)[0]
    if p[2] > 0:
        dl.add_circle(ImVec2(p[0] * k, p[1] * k), 6.0, _u32(ImVec4(1, 1, 1, 0.9)), 0, 2.0)


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    return f"{v:.4g}"


def draw_cell_tooltip(state: AppState, frame: Frame) -> None:
    info = frame.hover
    assert info is not None
    ex = info.explanation
    em = imgui.get_font_size()
    _place_next_window(state, frame)
    imgui.begin("##cell-tooltip", None, FLAGS)
    imgui.push_text_wrap_pos(30 * em)
    imgui.text_colored(KIND_COLOURS.get(ex.kind, MUTED), ex.title)
    imgui.text_colored(MUTED, f"{ex.kind} · {ex.index_text}")
    if ex.value is None:
        imgui.text_colored(MUTED, "render-only shell: no values (load a checkpoint for numbers)")
    else:
        imgui.text("value ")
        imgui.same_line()
        # the same text as the formula's total: the trace's digits its recomputation confirms
        imgui.text_colored(ACCENT, ex.shown if ex.shown is not None else fmt(ex.value))
    imgui.separator()
    imgui.text(ex.formula)
    for line in ex.lines:
        imgui.text_colored(MUTED, line)
    if ex.terms:
        imgui.spacing()
        imgui.text_colored(MUTED, f"largest of the {ex.n_terms} terms:")
        if imgui.begin_table("terms", 4, imgui.TableFlags_.sizing_fixed_fit):
            for t in ex.terms:
                imgui.table_next_row()
                for text in (f"k={t.k}", fmt(t.a), "" if t.b is None else fmt(t.b), fmt(t.product)):
                    imgui.table_next_column()
                    imgui.text(text)
            imgui.end_table()
    if ex.plot == "gelu" and ex.plot_x is not None:
        draw_gelu_plot(ex.plot_x, em)
    if state.pointer.pinned is not None:
        imgui.text_colored(MUTED, "pinned · Esc to unpin")
    imgui.pop_text_wrap_pos()
    imgui.end()


def gelu(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def draw_gelu_plot(x: float, em: float) -> None:
    """The GELU curve over [-4, 4] (wider if x lies outside) with the hovered point on it."""
    lo, hi = min(-4.0, x - 0.5), max(4.0, x + 0.5)
    w, h = 16 * em, 6 * em
    origin = imgui.get_cursor_screen_pos()
    imgui.dummy(ImVec2(w, h))
    dl = imgui.get_window_draw_list()
    ys = [gelu(lo + (hi - lo) * i / 80) for i in range(81)]
    y_lo, y_hi = min(ys + [-0.5]), max(ys)

    def to_px(px: float, py: float) -> ImVec2:
        return ImVec2(
            origin.x + (px - lo) / (hi - lo) * w, origin.y + h - (py - y_lo) / (y_hi - y_lo) * h
        )

    dl.add_rect(origin, ImVec2(origin.x + w, origin.y + h), _u32(ImVec4(1, 1, 1, 0.15)))
    dl.add_line(to_px(lo, 0), to_px(hi, 0), _u32(ImVec4(1, 1, 1, 0.2)))
    dl.add_line(to_px(0, y_lo), to_px(0, y_hi), _u32(ImVec4(1, 1, 1, 0.2)))
    pts = [to_px(lo + (hi - lo) * i / 80, y) for i, y in enumerate(ys)]
    for a, b in zip(pts, pts[1:], strict=False):
        dl.add_line(a, b, _u32(KIND_COLOURS["intermediate"]), 2.0)
    dl.add_circle_filled(to_px(x, gelu(x)), 4.5, _u32(ACCENT))


def draw_title_tooltip(state: AppState, frame: Frame) -> None:
    box = frame.model.scene.by_name.get(state.pointer.title_hover or "")
    if box is None:
        return
    _place_next_window(state, frame)
    imgui.begin("##title-tooltip", None, FLAGS)
    imgui.text_colored(KIND_COLOURS.get(box.kind, MUTED), box.title)
    imgui.text_colored(MUTED, box.name)
    count = box.rows * box.cols
    noun = "parameters" if box.kind == "weight" else "values"
    imgui.text(f"shape {box.rows} × {box.cols}  ({box.row_axis} × {box.col_axis})")
    imgui.text(f"{count:,} {noun}")
    if box.heads_merged > 1:
        imgui.text_colored(MUTED, f"{box.heads_merged} heads side by side")
    imgui.end()
