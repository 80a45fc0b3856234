"""The 'Analysis' window: attention maps of every head, the logit lens, and parameter counts;
plus the 3D overlay that writes each section's parameter count next to the model.

Plain draw_*(state) functions; sizes in em. Everything computed is cached per trace / config /
scene object, so a frame only draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from imgui_bundle import ImVec2, ImVec4, imgui, implot

from ..scene.analysis import (
    GroupCount,
    GroupLabel,
    LensRow,
    attention_grids,
    group_label_positions,
    logit_lens,
    param_groups,
    token_decoder,
    token_labels,
)
from ..scene.framing import default_panels
from ..scene.labels import section_labels, section_rects
from ..session.frame import Frame
from ..session.state import AppState
from . import dock, uimap
from .palette import MUTED, RAMPS, SECTION_COLORS, ZERO

ACCENT = ImVec4(0.45, 0.9, 0.55, 1.0)  # the model's own pick in the logit lens
TOTAL = ImVec4(1.0, 0.82, 0.35, 1.0)
MAX_HEADS_SHOWN = 36  # heatmaps drawn per frame at most (more layers: a layer slider)
AXIS_LABELS_MAX_T = 16  # token letters on the heatmap axes up to this many positions
# probability 0 -> 1: the scene's zero colour through the intermediate-value ramp of the 3D
# boxes (palette.RAMPS) to a pale end, so small weights still read against the masked zeros
_GREEN = RAMPS["intermediate"][1]  # the positive end of the activations' ramp
_RAMP = ((0.0, ZERO), (0.3, (0.08, 0.50, 0.56)), (0.7, _GREEN), (1.0, (0.93, 1.0, 0.72)))
_COLORMAP = "llmviz-attention"


@dataclass
class AnalysisActions:
    """What the panel asked for this frame (the app shell carries it out)."""

    fly_to_head: tuple[int, int] | None = None  # (layer, head), 0-based: fly the camera there


@dataclass
class _Cache:
    """Derived data, recomputed only when the object it comes from changes (held by reference,
    so a new trace at a recycled id() is still noticed)."""

    trace: Any = None
    maps: np.ndarray | None = None  # [L, H, T_k, T] float64, key rows and query columns as
    #                                 the 3D probs boxes (implot's heatmap wants doubles)
    labels: list[str] = field(default_factory=list)
    lens: dict[tuple[int, int], list[LensRow]] = field(default_factory=dict)
    config: Any = None
    groups: list[GroupCount] = field(default_factory=list)
    scene: Any = None
    overlay: dict[str, tuple[list[GroupLabel], np.ndarray]] = field(default_factory=dict)


@dataclass
class _View:
    position: int | None = None  # logit-lens position (None: the last)
    k: int = 3
    first_layer: int = 0
    selected: tuple[int, int] | None = None  # the head last clicked
    overlay_drawn: int = 0  # count labels the overlay drew last frame
    select_tab: str | None = None  # "Attention", "Logit lens" or "Parameters": opened next frame
    # screen rectangles (imgui units) of the heatmaps drawn last frame, for tests and picking
    head_rects: dict[tuple[int, int], tuple[float, float, float, float]] = field(
        default_factory=dict
    )


_cache = _Cache()
view = _View()


def _sync(state: AppState, frame: Frame) -> None:
    model = frame.model
    if model.trace is not _cache.trace:
        _cache.trace = model.trace
        _cache.maps = None
        _cache.lens = {}
        _cache.labels = []  # view.position stays: live training swaps the trace every step
        if model.trace is not None:
            _cache.maps = attention_grids(model.trace).astype(np.float64)
            _cache.labels = token_labels(model)
    if model.config is not _cache.config:
        _cache.config = model.config
        _cache.groups = param_groups(model.config)


def _lens(state: AppState, frame: Frame, position: int, k: int) -> list[LensRow]:
    key = (position, k)
    rows = _cache.lens.get(key)
    if rows is None:
        m = frame.model
        assert m.params is not None and m.trace is not None
        rows = logit_lens(m.config, m.params, m.trace, k=k, position=position)
        _cache.lens[key] = rows
    return rows


def _fb_to_imgui() -> float:
    return 1.0 / max(imgui.get_io().display_framebuffer_scale.x, 1e-3)


def _u32(rgb: tuple[float, float, float], a: float = 1.0) -> int:
    return imgui.get_color_u32(ImVec4(rgb[0], rgb[1], rgb[2], a))


def _show(text: str) -> str:
    """A token for a table cell: quoted, with whitespace made visible."""
    return "'" + text.replace("\n", "\\n").replace("\t", "\\t") + "'"


# ---- the window --------------------------------------------------------------------------------


def draw_analysis_panel(state: AppState, frame: Frame, actions: AnalysisActions) -> None:
    dock.place("Analysis")  # the middle column, between the model and walkthrough panels
    imgui.set_next_window_collapsed(True, imgui.Cond_.first_use_ever)
    view.head_rects.clear()
    if not imgui.begin("Analysis")[0]:
        imgui.end()
        return
    _sync(state, frame)
    model = frame.model
    if model.trace is None or model.params is None:
        imgui.push_text_wrap_pos(0.0)
        imgui.text_colored(
            MUTED,
            f"{model.config.name} is a render-only shell: attention maps and the logit lens "
            "need weights and an input. Its parameters:",
        )
        imgui.pop_text_wrap_pos()
        imgui.separator()
        _parameters(state, frame)
    elif imgui.begin_tab_bar("analysis tabs"):
        for name, draw in (
            ("Attention", lambda: _attention(state, actions)),
            ("Logit lens", lambda: _logit_lens(state, frame)),
            ("Parameters", lambda: _parameters(state, frame)),
        ):
            flags = imgui.TabItemFlags_.set_selected if view.select_tab == name else 0
            selected = imgui.begin_tab_item(name, None, flags)[0]
            uimap.mark("tab", name)
            if selected:
                draw()
                imgui.end_tab_item()
        view.select_tab = None
        imgui.end_tab_bar()
    imgui.end()


# ---- attention ---------------------------------------------------------------------------------


def _colormap() -> int:
    index = implot.get_colormap_index(_COLORMAP)
    if index == -1:
        t = np.linspace(0.0, 1.0, 32)
        stops = np.array([s for s, _ in _RAMP])
        rgb = np.stack([np.interp(t, stops, [c[i] for _, c in _RAMP]) for i in range(3)], 1)
        colors = np.concatenate([rgb, np.ones((len(t), 1))], axis=1).astype(np.float32)
        index = implot.add_colormap(_COLORMAP, colors, False)
    return index


def _attention(state: AppState, actions: AnalysisActions) -> None:
    maps = _cache.maps
    assert maps is not None
    L, H, T, _ = maps.shape
    em = imgui.get_font_size()
    labels = _cache.labels
    imgui.text_colored(  # the 3D boxes' orientation: a column per query, a row per key
        MUTED, "columns: query · rows: key, as in the 3D probs boxes"
    )
    imgui.text_colored(MUTED, "click a head to fly to it")
    per_frame = max(1, min(L, MAX_HEADS_SHOWN // H))
    if per_frame < L:
        imgui.set_next_item_width(12 * em)
        _, first = imgui.slider_int("first layer", view.first_layer + 1, 1, L - per_frame + 1)
        uimap.mark("slider", "first layer")
        view.first_layer = min(max(first - 1, 0), L - per_frame)
    else:
        view.first_layer = 0
    style = imgui.get_style()
    spacing = style.item_spacing.x
    avail = imgui.get_content_region_avail().x - style.scrollbar_size  # the grid scrolls
    side = float(np.clip((avail - (H - 1) * spacing) / H - 0.2 * em, 5 * em, 12 * em))
    per_row = max(1, int((avail + spacing) // (side + spacing)))
    cmap = _colormap()
    implot.push_colormap(cmap)
    if imgui.begin_child("attention grid", ImVec2(0, 0)):
        for layer in range(view.first_layer, view.first_layer + per_frame):
            for head in range(H):
                if head % per_row:
                    imgui.same_line()
                _head_map(maps[layer, head], layer, head, labels, side, actions)
    imgui.end_child()
    implot.pop_colormap()


def _head_map(
    grid: np.ndarray,
    layer: int,
    head: int,
    labels: list[str],
    side: float,
    actions: AnalysisActions,
) -> None:
    T = grid.shape[0]
    em = imgui.get_font_size()
    # tick labels as large as the rows allow (at most 0.75 em); none when under 8 px
    font = float(min(0.75 * em, (side - 1.6 * em) / T))
    ticks = T <= AXIS_LABELS_MAX_T and len(labels) == T and font >= 8.0
    flags = (
        implot.Flags_.no_title
        | implot.Flags_.no_legend
        | implot.Flags_.no_menus
        | implot.Flags_.no_box_select
        | implot.Flags_.no_mouse_text
    )
    imgui.begin_group()
    title = f"L{layer + 1} H{head + 1}"
    x = imgui.get_cursor_pos_x()
    imgui.set_cursor_pos_x(x + (side - imgui.calc_text_size(title).x) / 2)
    if view.selected == (layer, head):
        imgui.text_colored(ACCENT, title)
    else:
        imgui.text(title)
    imgui.set_cursor_pos_x(x)
    imgui.push_font(None, font if ticks else 0.75 * em)
    implot.push_style_var(implot.StyleVar_.plot_padding, ImVec2(0.15 * em, 0.15 * em))
    implot.push_style_var(implot.StyleVar_.label_padding, ImVec2(0.1 * em, 0.1 * em))
    if implot.begin_plot(f"##attn{layer}.{head}", ImVec2(side, side), flags):
        axis = (
            implot.AxisFlags_.lock
            | implot.AxisFlags_.no_grid_lines
            | implot.AxisFlags_.no_tick_marks
            | implot.AxisFlags_.no_menus
            | implot.AxisFlags_.no_highlight
        )
        short = all(len(s) <= 2 for s in labels)
        x_flags = axis if ticks and short else axis | implot.AxisFlags_.no_tick_labels
        y_flags = axis if ticks else axis | implot.AxisFlags_.no_tick_labels
        implot.setup_axes("query", "key", x_flags, y_flags)
        implot.setup_axes_limits(0, T, 0, T, implot.Cond_.always)
        if ticks:
            implot.setup_axis_ticks(implot.ImAxis_.x1, 0.5, T - 0.5, T, labels)
            implot.setup_axis_ticks(implot.ImAxis_.y1, 0.5, T - 0.5, T, labels[::-1])
        # row 0 (key 0) at the top: implot draws the first row at bounds_max.y
        implot.plot_heatmap("##probs", grid, 0.0, 1.0, "", implot.Point(0, 0), implot.Point(T, T))
        _head_interaction(grid, layer, head, labels, actions)
        implot.end_plot()
    implot.pop_style_var(2)
    imgui.pop_font()
    imgui.end_group()


def _head_interaction(
    grid: np.ndarray, layer: int, head: int, labels: list[str], actions: AnalysisActions
) -> None:
    """Inside the head's plot: remember its rectangle, outline the selected head, tooltip and
    click (fly to the head)."""
    T = grid.shape[0]
    pos, size = implot.get_plot_pos(), implot.get_plot_size()
    rect = (pos.x, pos.y, pos.x + size.x, pos.y + size.y)
    view.head_rects[(layer, head)] = rect
    uimap.mark("plot", f"L{layer + 1} H{head + 1}", rect)
    if view.selected == (layer, head):
        implot.get_plot_draw_list().add_rect(
            ImVec2(rect[0] - 1, rect[1] - 1),
            ImVec2(rect[2] + 1, rect[3] + 1),
            _u32(_GREEN),
            0.0,
            2.0,
        )
    if not implot.is_plot_hovered():
        return
    mp = implot.get_plot_mouse_pos()
    query, key = int(np.clip(mp.x, 0, T - 1)), int(np.clip(T - mp.y, 0, T - 1))
    named = len(labels) == T
    tq = _show(labels[query]) if named else ""
    tk = _show(labels[key]) if named else ""
    imgui.set_tooltip(
        f"layer {layer + 1} · head {head + 1}\n"
        f"query {query} {tq} -> key {key} {tk}: {grid[key, query]:.3f}\n"
        "click: fly the camera to this head"
    )
    if imgui.is_mouse_clicked(imgui.MouseButton_.left):
        actions.fly_to_head = (layer, head)
        view.selected = (layer, head)


# ---- logit lens --------------------------------------------------------------------------------


def _logit_lens(state: AppState, frame: Frame) -> None:
    model = frame.model
    assert model.trace is not None
    em = imgui.get_font_size()
    T = model.trace.tokens.shape[1]
    V = model.config.vocab_size
    labels = _cache.labels
    dec = token_decoder(model)
    pos = T - 1 if view.position is None else min(view.position, T - 1)
    imgui.set_next_item_width(14 * em)
    changed, new = imgui.slider_int("position", pos, 0, T - 1)
    uimap.mark("slider", "position")
    if changed:
        view.position = new
        pos = new
    if V > 3:
        imgui.same_line()
        imgui.set_next_item_width(6 * em)
        _, view.k = imgui.slider_int("top k", view.k, 1, min(10, V))
        uimap.mark("slider", "top k")
    k = max(1, min(view.k, V))
    here = _show(labels[pos]) if pos < len(labels) else ""
    after = f"; the sequence has {_show(labels[pos + 1])} next" if pos + 1 < len(labels) else ""
    imgui.text_colored(MUTED, f"reading position {pos} {here}: which token comes after it{after}")
    rows = _lens(state, frame, pos, k)
    pick = rows[-1].ids[0]
    imgui.text_colored(MUTED, "each layer's residual -> final layer norm -> unembedding -> softmax")
    flags = (
        imgui.TableFlags_.row_bg
        | imgui.TableFlags_.borders_inner_v
        | imgui.TableFlags_.sizing_fixed_fit
    )
    if imgui.begin_table("lens", k + 2, flags):
        imgui.table_setup_column("layer")
        for i in range(k):
            imgui.table_setup_column(f"top {i + 1}")
        imgui.table_setup_column(f"P({_show(dec(pick))}), the model's pick")
        imgui.table_headers_row()
        for row in rows:
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.text(row.title)
            for tid, p in zip(row.ids, row.probs, strict=True):
                imgui.table_next_column()
                text = f"{_show(dec(tid))} {p:.3f}"
                if tid == pick:
                    imgui.text_colored(ACCENT, text)
                else:
                    imgui.text(text)
            imgui.table_next_column()
            p = float(row.distribution[pick])
            imgui.progress_bar(p, ImVec2(8 * em, 0), f"{p:.3f}")
        imgui.end_table()
    imgui.text_colored(MUTED, "the last row is the model's own prediction at this position")


# ---- parameters --------------------------------------------------------------------------------


def _parameters(state: AppState, frame: Frame) -> None:
    cfg = frame.model.config
    groups = _cache.groups
    em = imgui.get_font_size()
    imgui.text(
        f"{cfg.name}: {cfg.n_layer} layers · {cfg.n_head} heads · C {cfg.n_embd:,} · "
        f"vocabulary {cfg.vocab_size:,} · context {cfg.block_size:,}"
    )
    flags = (
        imgui.TableFlags_.row_bg
        | imgui.TableFlags_.borders_inner_v
        | imgui.TableFlags_.sizing_fixed_fit
    )
    total = next(g for g in groups if g.key == "total").total
    if imgui.begin_table("groups", 4, flags):
        imgui.table_setup_column("group")
        imgui.table_setup_column("per layer")
        imgui.table_setup_column("whole model")
        imgui.table_setup_column("share")
        imgui.table_headers_row()
        for g in groups:
            imgui.table_next_row()
            imgui.table_next_column()
            color = TOTAL if g.is_total else (None if g.is_matrix else MUTED)
            cells = [
                g.title,
                f"{g.per_layer:,}" if g.per_layer else "-",
                f"{g.total:,}",
                f"{100 * g.total / total:.2f} %" if total else "",
            ]
            if g.key == "unembedding" and cfg.tie_word_embeddings:
                cells[2], cells[3] = "= wte (tied)", ""
            for i, cell in enumerate(cells):
                if i:
                    imgui.table_next_column()
                if color is None:
                    imgui.text(cell)
                else:
                    imgui.text_colored(color, cell)
        imgui.end_table()
    imgui.text_colored(MUTED, "grey rows are not weight matrices (left out of the first total)")
    _per_layer_table(state, frame, groups, em)
    shown = state.view.show_param_overlay
    changed, shown = uimap.checkbox("label the groups in 3D", shown)
    if changed:
        state.view.show_param_overlay = shown


def _per_layer_table(state: AppState, frame: Frame, groups: list[GroupCount], em: float) -> None:
    cfg = frame.model.config
    g = {row.key: row for row in groups}
    before = g["embedding"].total + g["position_embedding"].total  # counted before block 1
    columns = ("layer", "attention", "MLP", "layer norms", "biases", "block", "running total")
    flags = (
        imgui.TableFlags_.row_bg
        | imgui.TableFlags_.borders_inner_v
        | imgui.TableFlags_.scroll_y
        | imgui.TableFlags_.sizing_fixed_fit
    )
    rows_h = min(cfg.n_layer + 1.6, 9.0) * imgui.get_text_line_height_with_spacing()
    if not imgui.begin_table("per layer", len(columns), flags, ImVec2(0, rows_h)):
        return
    imgui.table_setup_scroll_freeze(0, 1)
    for name in columns:
        imgui.table_setup_column(name)
    imgui.table_headers_row()
    block = g["total"].per_layer
    cells = [
        f"{g['attention'].per_layer:,}",
        f"{g['mlp'].per_layer:,}",
        f"{g['layer_norm'].per_layer:,}",
        f"{g['bias'].per_layer:,}",
        f"{block:,}",
    ]
    clipper = imgui.ListClipper()
    clipper.begin(cfg.n_layer)
    while clipper.step():
        for i in range(clipper.display_start, clipper.display_end):
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.text(f"{i + 1}")
            for cell in cells:
                imgui.table_next_column()
                imgui.text(cell)
            imgui.table_next_column()
            imgui.text_colored(MUTED, f"{before + (i + 1) * block:,}")
    clipper.end()
    imgui.end_table()


# ---- the 3D overlay ----------------------------------------------------------------------------


def _overlay_labels(scene: Any) -> dict[str, tuple[list[GroupLabel], np.ndarray]]:
    """Both label sets of a scene (one per section, one per layer) with their anchors."""
    if scene is not _cache.scene:
        _cache.scene = scene
        _cache.overlay = {}
        for per in ("section", "layer"):
            labels = group_label_positions(scene, per=per)
            points = np.array([lb.position for lb in labels], float).reshape(-1, 3)
            _cache.overlay[per] = (labels, points)
    return _cache.overlay


def _median_spacing(y: np.ndarray) -> float:
    """Median screen distance between consecutive anchors (inf when fewer than two)."""
    y = y[np.isfinite(y)]
    return float(np.median(np.abs(np.diff(y)))) if len(y) > 1 else float("inf")


def draw_param_overlay(state: AppState, frame: Frame) -> None:
    """Each section's parameter count hung under its section label (the brackets down the side
    of the model, scene/labels), or where that label would stand when the section is too short
    for one, on the background draw list: under the windows, over the scene. When sections
    are too close on screen the attention and MLP counts share one label per layer, and then
    only every n-th layer is labelled; a count overlapping a section label, a panel or a count
    already drawn is skipped."""
    if not state.view.show_param_overlay:
        return
    v = state.view
    scene = frame.model.scene
    panels = v.panels if v.panels is not None else default_panels(v.width, v.height)
    placed = section_labels(scene, v.camera, v.width, v.height, panels)
    secs = {(s.layer, s.kind): s for s in placed}
    spans = section_rects(scene, v.camera, v.width, v.height)
    variants = _overlay_labels(scene)
    k = _fb_to_imgui()
    em = imgui.get_font_size()
    size, pad = 0.8 * em, 0.25 * em  # imgui units
    room = (size + 2 * pad) / k * 1.3  # pixels a count needs down the side

    def tops(labels) -> np.ndarray:
        found = [spans.get((lb.layer, lb.section)) for lb in labels if lb.layer is not None]
        return np.array([r[1] for r in found if r is not None], float)

    labels, _ = variants["section"]
    stride = 1
    if _median_spacing(tops(labels)) < room:
        labels, _ = variants["layer"]
        stride = max(1, int(np.ceil(room / max(_median_spacing(tops(labels)), 1e-6))))
    font = imgui.get_font()
    dl = imgui.get_background_draw_list()
    width, height = v.width * k, v.height * k
    kept = [tuple(c * k for c in r) for r in panels]
    kept += [tuple(c * k for c in s.rect) for s in secs.values()]
    drawn = 0
    for label in labels:
        if label.layer is not None and label.layer % stride:
            continue
        key = (label.layer, label.section)
        w = imgui.calc_text_size(label.text).x * size / em
        sec, span = secs.get(key), spans.get(key)
        if sec is not None:  # under the section's title, on its side of the model
            x0 = sec.rect[0] * k if sec.side > 0 else sec.rect[2] * k - w
            y0 = sec.rect[3] * k + pad
        elif span is not None:  # where the section's label would stand: right of it, at its top
            # kept in the free area: a section may be wider than the view
            x0 = min(span[2] * k + 15.0, frame.free_area[2] * k - w - 2 * pad)
            y0 = max(span[1], frame.free_area[1]) * k + pad  # below the bars along the top
        else:
            continue
        rect = (x0 - pad, y0 - pad, x0 + w + pad, y0 + size + pad)
        if rect[0] < 0 or rect[2] > width or rect[1] < 0 or rect[3] > height:
            continue
        if any(
            rect[0] < q[2] and q[0] < rect[2] and rect[1] < q[3] and q[1] < rect[3] for q in kept
        ):
            continue
        kept.append(rect)
        drawn += 1
        ink = SECTION_COLORS.get(label.section, (0.86, 0.89, 0.95))
        dl.add_rect_filled(
            ImVec2(rect[0], rect[1]), ImVec2(rect[2], rect[3]), _u32(ZERO, 0.85), 0.3 * em
        )
        dl.add_text(font, size, ImVec2(x0, y0), _u32(ink), label.text)
    view.overlay_drawn = drawn
