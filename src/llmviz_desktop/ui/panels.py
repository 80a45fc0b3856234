"""The imgui panels: model selector, colour controls, FPS readout, help overlay, and the tensor
titles / token letters drawn over the scene. Plain draw_*(state) functions; sizes in em."""

from __future__ import annotations

from dataclasses import dataclass, field

from imgui_bundle import ImVec2, ImVec4, imgui

from ..demos.superposition import SuperpositionDemo
from ..scene.framing import default_panels
from ..scene.labels import place, project_strokes
from ..scene.scale import CHAR_WIDTH as CARD_CHAR_WIDTH
from ..scene.scale import scale_overlay
from ..session.errors import record
from ..session.frame import Frame
from ..session.loaded import MODEL_CHOICES
from ..session.state import AppState
from . import dock, uimap
from .analysis_panel import AnalysisActions, draw_analysis_panel, draw_param_overlay
from .palette import RAMPS, SECTION_COLORS, ZERO
from .superposition_panel import draw_superposition_panel
from .tooltip import draw_hover
from .training_panel import LearnActions, draw_training_panel
from .walkthrough_panel import WalkActions, draw_walkthrough_panel

CONTROLS = (
    ("Left drag", "pan (the point under the cursor follows it)"),
    ("Right drag", "orbit around the view centre"),
    ("Scroll", "zoom toward the cursor"),
    ("Home / R", "reset the view"),
    ("F", "frame the tensor under the cursor"),
    ("H / ?", "show or hide this help"),
    ("L", "show or hide labels"),
    ("Space", "play / pause the walkthrough"),
    ("Left / Right", "previous / next walkthrough step"),
    ("Hover", "what a cell is, its value and how it was computed"),
    ("Click", "pin the tooltip (Esc unpins)"),
    ("Esc", "unpin, leave a text field or list, stop a camera flight"),
    ("Ctrl+Q", "quit (or the window's close button)"),
)


@dataclass
class UIActions:
    """What the user asked for this frame that the app shell must carry out."""

    load_model: str | None = None
    reset_camera: bool = False
    walk: WalkActions = field(default_factory=WalkActions)
    learn: LearnActions = field(default_factory=LearnActions)
    analysis: AnalysisActions = field(default_factory=AnalysisActions)


# panels placed against an edge of the window; they keep that edge when the window resizes
DOCKED_PANELS = ("Walkthrough", "Analysis", "Superposition", "llmviz")
_last_display: list[float] = []  # the display size at the previous frame (this imgui context)


def follow_window_resize() -> None:
    """Dear ImGui keeps a window's position in pixels from the top-left, so after the window
    grows or shrinks a panel docked on the right would float mid-screen or be cut off. Move
    each panel with the edge it is nearest: right third by the change in width, middle third
    by half of it, and likewise bottom third by the change in height; then keep its title bar
    on screen."""
    io = imgui.get_io()
    now = [io.display_size.x, io.display_size.y]
    before, _last_display[:] = list(_last_display), now
    if not before or before == now or min(now) <= 0 or min(before) <= 0:
        return
    em = imgui.get_font_size()
    for name in DOCKED_PANELS:
        window = imgui.internal.find_window_by_name(name)
        if window is None:
            continue
        pos = [window.pos.x, window.pos.y]
        for axis in (0, 1):
            centre = (pos[axis] + window.size[axis] / 2) / before[axis]
            share = 0.0 if centre < 1 / 3 else 1.0 if centre > 2 / 3 else 0.5
            pos[axis] += share * (now[axis] - before[axis])
        x = min(max(pos[0], 0.0), max(now[0] - 4 * em, 0.0))
        y = min(max(pos[1], 0.0), max(now[1] - 2 * em, 0.0))
        imgui.set_window_pos(name, ImVec2(x, y))


def draw_ui(state: AppState, frame: Frame) -> UIActions:
    """The whole imgui frame. A failure outside any one panel (resizing, the error panel
    itself) is contained like a panel's: shown, logged, survived."""
    actions = UIActions()
    imgui.internal.error_recovery_store_state(_frame_start_state)
    guarded(state, "interface", _draw_all, state, frame, actions)
    state.view.panels = panel_rects() if state.view.show_ui else ()
    uimap.flush()  # the test hook (LLMVIZ_UI_MAP); nothing without it
    return actions


FRAMING_PANELS = ("llmviz", "Analysis", "Walkthrough", "Watch it learn", "Superposition")


def panel_rects() -> tuple[tuple[float, float, float, float], ...] | None:
    """The panels drawn this frame, in framebuffer pixels: the camera frames the area they
    leave free (scene/framing.free_rect). None while a panel is still being measured (imgui
    hides an auto-sized window on its first frame): the default places stand in."""
    sx, sy = imgui.get_io().display_framebuffer_scale
    rects = []
    for name in FRAMING_PANELS:
        w = imgui.internal.find_window_by_name(name)
        if w is None or not w.active:
            continue
        if w.hidden:
            return None
        x0, y0 = w.pos.x * sx, w.pos.y * sy
        rects.append((x0, y0, x0 + w.size.x * sx, y0 + w.size.y * sy))
    return tuple(rects)


def close_popup_on_escape() -> None:
    """Esc closes an open list (a combo's popup). Dear ImGui does that only with keyboard
    navigation on, which would take the arrow keys and Space from the walkthrough."""
    any_popup = imgui.PopupFlags_.any_popup_id | imgui.PopupFlags_.any_popup_level
    if imgui.is_key_pressed(imgui.Key.escape, False) and imgui.is_popup_open("", any_popup):
        imgui.internal.close_popup_to_level(0, True)


def _draw_all(state: AppState, frame: Frame, actions: UIActions) -> None:
    follow_window_resize()
    close_popup_on_escape()
    state.pointer.title_hover = None
    if state.view.show_labels:
        guarded(state, "labels", draw_labels, state, frame)
    guarded(state, "tooltip", draw_hover, state, frame)
    guarded(state, "parameter overlay", draw_param_overlay, state, frame)
    if state.view.hud:
        draw_hud(state.view.hud)
    if not state.view.show_ui:
        return
    guarded(state, "model panel", draw_model_panel, state, frame, actions)
    guarded(state, "walkthrough panel", draw_walkthrough_panel, state, frame, actions.walk)
    guarded(state, "training panel", draw_training_panel, state, frame, actions.learn)
    guarded(state, "analysis panel", draw_analysis_panel, state, frame, actions.analysis)
    if state.controllers.superposition is not None:
        guarded(
            state, "superposition panel", draw_superposition_panel, state.controllers.superposition
        )
    if state.messages.errors:
        draw_errors(state)
    if state.view.show_help:
        draw_help(state)


def end_abandoned_frame() -> None:
    """After an exception escaped a frame between imgui.new_frame() and imgui.render(): close
    what it left open and end the frame, so the next new_frame() starts clean."""
    ctx = imgui.get_current_context()
    if ctx is None or not ctx.within_frame_scope:
        return
    try:
        imgui.internal.error_recovery_try_to_recover_state(_frame_start_state)
    except Exception:
        pass
    try:
        imgui.end_frame()
    except Exception:  # nothing more to do: the next new_frame() reports it, contained
        pass


_frame_start_state = imgui.internal.ErrorRecoveryState()


def guarded(state: AppState, where: str, draw, *args) -> None:
    """Run one panel; if it raises, unwind imgui to where it was (Dear ImGui's error
    recovery), log the traceback and show one line in the error panel. The app keeps going."""
    saved = imgui.internal.ErrorRecoveryState()
    imgui.internal.error_recovery_store_state(saved)
    try:
        draw(*args)
    except Exception as e:
        imgui.internal.error_recovery_try_to_recover_state(saved)
        record(state.messages.errors, where, e)


def draw_errors(state: AppState) -> None:
    em = imgui.get_font_size()
    k = 1.0 / max(imgui.get_io().display_framebuffer_scale.x, 1e-3)
    imgui.set_next_window_pos(
        ImVec2(state.view.width * k / 2, 0.8 * em), imgui.Cond_.always, ImVec2(0.5, 0)
    )
    imgui.set_next_window_bg_alpha(0.95)
    flags = imgui.WindowFlags_.always_auto_resize | imgui.WindowFlags_.no_collapse
    if imgui.begin("Something went wrong", None, flags)[0]:
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + 36 * em)
        for message in state.messages.errors:
            imgui.text_colored(ImVec4(1.0, 0.55, 0.45, 1.0), message)
        imgui.pop_text_wrap_pos()
        if uimap.button("Dismiss"):
            state.messages.errors.clear()
    imgui.end()


def draw_hud(text: str) -> None:
    """A caption over the scene (videos, replay): top-left, on a dark plate."""
    em = imgui.get_font_size()
    dl = imgui.get_foreground_draw_list()
    size = imgui.calc_text_size(text)
    x, y = 1.0 * em, imgui.get_io().display_size.y - 2.2 * em
    dl.add_rect_filled(
        ImVec2(x - 0.5 * em, y - 0.3 * em),
        ImVec2(x + size.x + 0.5 * em, y + size.y + 0.3 * em),
        _col(0.05, 0.06, 0.08, 0.85),
        0.3 * em,
    )
    dl.add_text(ImVec2(x, y), _col(0.92, 0.94, 0.98), text)


def _col(r: float, g: float, b: float, a: float = 1.0) -> int:
    return imgui.get_color_u32(ImVec4(r, g, b, a))


MAX_FOCUS_TITLES = 12  # a step about more boxes (the whole model) gets the ordinary titles


def label_focus(frame: Frame) -> list[str]:
    """The boxes in focus, first first: the hovered (or pinned) box, then the walkthrough's."""
    names = [frame.hover.hit.box.name] if frame.hover is not None else []
    if frame.walk is not None and len(frame.walk.highlight) <= MAX_FOCUS_TITLES:
        boxes = frame.model.scene.boxes
        names += [boxes[i].name for i in sorted(frame.walk.highlight) if 0 <= i < len(boxes)]
        # then what the moment's arithmetic reads (its source cells)
        names += [boxes[h.box].name for h in frame.walk.cells if 0 <= h.box < len(boxes)]
    return list(dict.fromkeys(names))[:MAX_FOCUS_TITLES]


def token_rows(frame: Frame) -> dict[str, list[str]]:
    """The letters of the token rows: the input ids, or the predicted next tokens."""
    model = frame.model
    if model.trace is None or model.config.vocab is None:
        return {}
    vocab = model.config.vocab
    reveal = frame.walk.reveal if frame.walk is not None else {}
    out = {}
    for k, box in enumerate(model.scene.boxes):
        if box.kind == "token" and box.source is not None:
            ids = box.source.matrix(model.trace, model.params)[0]
            # only the positions computed at this moment of the walkthrough carry a letter
            shown = int(reveal[k][0] * box.cols + 1e-6) if k in reveal else box.cols
            out[box.name] = [vocab[int(i)] for i in ids[:shown]]
    return out


def draw_scale_overlay(dl, font, k: float, overlay) -> None:
    """Model cards (a dark plate, the title, the figures) with a leader to their model, and the
    scale scene's layer / section names (scene/scale.scale_overlay, in pixels)."""
    ink = _col(0.55, 0.65, 0.8, 0.6)
    for ld in overlay.leaders:
        dl.add_line(ImVec2(ld.x0 * k, ld.y0 * k), ImVec2(ld.x1 * k, ld.y1 * k), ink, 1.0)
    for x0, y0, x1, y1 in overlay.cards:
        p0, p1 = ImVec2(x0 * k, y0 * k), ImVec2(x1 * k, y1 * k)
        dl.add_rect_filled(p0, p1, _col(0.05, 0.06, 0.08, 0.92), 4.0)
        dl.add_rect(p0, p1, ink, 4.0, thickness=1.0)
    for t in overlay.texts:
        bright = t.kind == "card-title"
        col = _col(1.0, 0.95, 0.8) if bright else _col(0.86, 0.89, 0.95, 0.92)
        dl.add_text(font, t.size * k, ImVec2(t.x * k, t.y * k), col, t.text)


def label_obstacles(state: AppState) -> tuple[tuple[float, float, float, float], ...]:
    """The panels labels keep off: last frame's, plus where they open while a panel is still
    settling (an auto-resized window is hidden, with no size yet, on its first frame)."""
    v = state.view
    if not v.show_ui:
        return ()
    shown = tuple(v.panels or ())
    settling = v.panels is None
    for name in FRAMING_PANELS:
        w = imgui.internal.find_window_by_name(name)
        settling = settling or (w is not None and w.was_active and w.hidden)
    return shown + default_panels(v.width, v.height) if settling else shown


def draw_strokes(dl, strokes, k: float) -> None:
    """The walkthrough's curves and lines (scene/labels.project_strokes), over the scene."""
    for stroke, points, dots in strokes:
        col = _col(*stroke.color)
        if len(points) > 1:
            dl.add_polyline([ImVec2(x * k, y * k) for x, y in points], col, stroke.width, 0)
        for x, y in dots:
            dl.add_circle_filled(ImVec2(x * k, y * k), stroke.dot_px * k, col)


def draw_labels(state: AppState, frame: Frame) -> None:
    """The placement pass (scene/labels.py) drawn on the background list: over the scene,
    under the panels."""
    model = frame.model
    v = state.view
    panels = label_obstacles(state)
    overlay = None
    if getattr(model.scene, "cards", ()):  # the scale scene: model cards and layer names
        overlay = scale_overlay(model.scene, v.camera, v.width, v.height, frame.free_area)
        panels += tuple(overlay.cards) + tuple(
            (t.x, t.y, t.x + CARD_CHAR_WIDTH * len(t.text) * t.size, t.y + t.size)
            for t in overlay.texts
        )
    placed = place(
        model.scene,
        v.camera,
        v.width,
        v.height,
        token_text=token_rows(frame),
        focus=label_focus(frame),
        panels=panels,
        vocab=model.config.vocab,
        with_sections=overlay is None,
        notes=frame.walk.notes if frame.walk is not None else (),
        # in the walkthrough only the step's own tensors are titled: the others' titles
        # would bury its subject (the section brackets still name the blocks)
        context_titles=frame.walk is None,
        faded=[k for k, a in frame.walk.alpha.items() if a < 0.5] if frame.walk else (),
    )  # widths estimated (labels.CHAR_WIDTH), not measured: exactly what place_labels gives
    dl = imgui.get_background_draw_list()
    font = imgui.get_font()
    k = 1.0 / max(imgui.get_io().display_framebuffer_scale.x, 1e-3)  # pixels -> imgui units
    text_ink = _col(0.86, 0.89, 0.95, 0.95)
    if overlay is not None:
        draw_scale_overlay(dl, font, k, overlay)
    if frame.walk is not None and frame.walk.strokes:
        draw_strokes(dl, project_strokes(frame.walk.strokes, v.camera, v.width, v.height), k)
    for sec in placed.sections:
        r, g, b = SECTION_COLORS[sec.kind]
        col = _col(r, g, b, 0.85)
        x, y0, y1 = sec.x * k, sec.y_top * k, sec.y_bottom * k
        dl.add_line(ImVec2(x, y0 + 1), ImVec2(x, y1 - 1), col, 2.0)
        tick = x - 5 * sec.side  # the bracket's ends point at the model
        dl.add_line(ImVec2(tick, y0 + 1), ImVec2(x, y0 + 1), col, 2.0)
        dl.add_line(ImVec2(tick, y1 - 1), ImVec2(x, y1 - 1), col, 2.0)
        tx, ty = sec.rect[0] * k, sec.rect[1] * k
        dl.add_text(font, sec.size * k, ImVec2(tx, ty), _col(0.86, 0.89, 0.95), sec.text)
    dim_ink = _col(0.98, 0.85, 0.45, 0.95)
    for dim in placed.dims:
        (ax, ay), (bx, by) = dim.a, dim.b
        ends = ImVec2(ax * k, ay * k), ImVec2(bx * k, by * k)
        dl.add_line(ends[0], ends[1], dim_ink, 1.5)
        length = max(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5, 1e-6)
        tx, ty = -(by - ay) / length * 4 * k, (bx - ax) / length * 4 * k  # end ticks across
        for e in ends:
            dl.add_line(ImVec2(e.x - tx, e.y - ty), ImVec2(e.x + tx, e.y + ty), dim_ink, 1.5)
    vocab = model.config.vocab or ()
    for px_label in placed.labels:
        x0, y0, x1, y1 = (c * k for c in px_label.rect)
        size, pos = px_label.size * k, ImVec2(x0, y0)
        if px_label.kind in ("note", "result"):  # the walkthrough's numbers in the scene
            w = imgui.calc_text_size(px_label.text).x * size / imgui.get_font_size()
            x0 = (x0 + x1 - w) / 2
            pad = 0.25 * size
            p0, p1 = ImVec2(x0 - pad, y0 - 0.3 * pad), ImVec2(x0 + w + pad, y1 + 0.3 * pad)
            dl.add_rect_filled(p0, p1, _col(0.03, 0.035, 0.05, 0.92), pad)
            strong = px_label.kind == "result"
            edge = _col(1.0, 0.62, 0.22, 0.95) if strong else _col(0.55, 0.6, 0.7, 0.6)
            dl.add_rect(p0, p1, edge, pad, thickness=1.5 if strong else 1.0)
            ink = _col(1.0, 0.9, 0.7) if strong else _col(0.95, 0.96, 1.0)
            dl.add_text(font, size, ImVec2(x0, y0), ink, px_label.text)
        elif px_label.kind == "token":
            # the cell brightens with the token id: light ink on the dark low ids
            text = px_label.text
            dark_cell = text in vocab and vocab.index(text) < (len(vocab) - 1) / 2
            ink = _col(0.92, 0.94, 0.98) if dark_cell else _col(0.05, 0.06, 0.08)
            w = imgui.calc_text_size(text).x * size / imgui.get_font_size()
            dl.add_text(font, size, ImVec2((x0 + x1 - w) / 2, y0), ink, text)
        else:
            # the plate fits the text as drawn (the pass reserved its estimated width); a
            # title left of its box ends next to the box
            w = imgui.calc_text_size(px_label.text).x * size / imgui.get_font_size()
            if px_label.right:
                x0 = max(x1 - w, x0)
                pos = ImVec2(x0, y0)
            else:
                x1 = min(x0 + w, x1)
            pad = 0.2 * size
            p0, p1 = ImVec2(x0 - pad, y0 - 0.5 * pad), ImVec2(x1 + pad, y1 + 0.5 * pad)
            focus = px_label.kind == "focus"
            alpha = 0.85 if px_label.inside or focus or px_label.kind == "dim" else 0.55
            dl.add_rect_filled(p0, p1, _col(0.04, 0.05, 0.07, alpha), pad)
            if focus:
                dl.add_rect(p0, p1, dim_ink, pad, thickness=1.0)
            ink = dim_ink if px_label.kind == "dim" else _col(1.0, 0.95, 0.8) if focus else text_ink
            dl.add_text(font, size, pos, ink, px_label.text)
            titled = px_label.kind in ("title", "focus")
            if titled and state.pointer.mouse is not None and frame.hover is None:
                mx, my = state.pointer.mouse  # the title under the cursor: shape and count
                hit = px_label.rect
                if hit[0] <= mx <= hit[2] and hit[1] <= my <= hit[3]:
                    state.pointer.title_hover = px_label.box


_folder_text = {"value": ""}  # the model panel's folder field (kept between frames)


def model_box(home: str, shown: str) -> tuple[list[str], int, bool]:
    """(choices, the one the box names, whether it is locked): the box names the model on
    screen; while a walkthrough step shows another than the user's, it is locked."""
    choices = list(MODEL_CHOICES)
    for name in (home, shown):  # a checkpoint folder given with --model, the scale scene
        if name not in choices:
            choices.append(name)
    return choices, choices.index(shown), shown != home


def draw_model_panel(state: AppState, frame: Frame, actions: UIActions) -> None:
    em = imgui.get_font_size()
    dock.place("llmviz")  # top of the left column
    flags = imgui.WindowFlags_.always_auto_resize
    if imgui.begin("llmviz", None, flags)[0]:
        cfg = frame.model.config
        home = state.home
        # the box names the model on screen: a walkthrough step may show its own (gpt3 in the
        # scale chapter, nano-sort for a shell); the user's choice (home) stays theirs, is
        # what the settings remember, and comes back when they leave the walkthrough
        choices, current, by_walk = model_box(home.name, frame.model.name)
        imgui.begin_disabled(by_walk)
        changed, idx = imgui.combo("model", current, choices)
        imgui.end_disabled()
        uimap.mark("combo", "model")
        if changed and not by_walk and choices[idx] != home.name:
            actions.load_model = choices[idx]
        if by_walk:
            imgui.text_disabled(f"shown by the walkthrough; yours: {home.name}")
        imgui.set_next_item_width(14 * em)
        entered, _folder_text["value"] = imgui.input_text_with_hint(
            "##folder",
            "or a checkpoint folder",
            _folder_text["value"],
            imgui.InputTextFlags_.enter_returns_true,
        )
        uimap.mark("input", "##folder")
        imgui.same_line()
        if (uimap.button("Open") or entered) and _folder_text["value"].strip():
            actions.load_model = _folder_text["value"].strip()
        kind = "trained weights" if frame.model.params is not None else "render-only shell"
        models = frame.model.scene.models
        if models:  # the scale scene: several models, each with its card in 3D
            imgui.text_disabled(f"{len(models)} models at one scale: {', '.join(models)}")
        else:
            imgui.text_disabled(
                f"{cfg.n_layer} layers · {cfg.n_head} heads · C {cfg.n_embd} · {kind}"
            )
        if frame.model.trace is not None:
            imgui.text(f"input  {frame.model.input_text}")
            imgui.same_line()
            imgui.text_disabled("->")
            imgui.same_line()
            imgui.text(frame.model.output_text)
        imgui.separator()
        imgui.text("colour scale")
        if uimap.radio_button("linear", not state.view.colors.symlog):
            state.view.colors.symlog = False
        imgui.same_line()
        if uimap.radio_button("symmetric log", state.view.colors.symlog):
            state.view.colors.symlog = True
        if uimap.radio_button("per tensor", state.view.colors.normalise == "tensor"):
            state.view.colors.normalise = "tensor"
        imgui.same_line()
        if uimap.radio_button("global", state.view.colors.normalise == "global"):
            state.view.colors.normalise = "global"
        draw_legend(state, frame)
        _, state.view.colors.grid = imgui.slider_float(
            "gridlines", state.view.colors.grid, 0.0, 1.0
        )
        uimap.mark("slider", "gridlines")
        _, state.view.show_labels = uimap.checkbox("labels", state.view.show_labels)
        imgui.separator()
        if uimap.button("reset view"):
            actions.reset_camera = True
        imgui.same_line()
        if uimap.button("help (H)"):
            state.view.show_help = not state.view.show_help
        imgui.same_line()
        if uimap.button("superposition"):  # 3Blue1Brown's near-orthogonal vectors demo
            state.controllers.superposition = state.controllers.superposition or SuperpositionDemo()
            state.controllers.superposition.visible = True
        if state.view.show_stats:
            fps = f"{state.stats.fps:5.1f} fps · " if state.stats.fps else ""
            if state.stats.idle:  # the pacer slowed the redraw: say so rather than look slow
                fps = f"idle, {state.stats.fps:.0f} fps · "
            imgui.text_disabled(f"{fps}{state.stats.frame_ms:5.1f} ms per frame")
        if state.messages.status:  # wrapped: a long path must not stretch the panel off the screen
            imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + 19 * em)
            imgui.text_colored(ImVec4(1.0, 0.75, 0.3, 1.0), state.messages.status)
            imgui.pop_text_wrap_pos()
    imgui.end()


def draw_legend(state: AppState, frame: Frame) -> None:
    """A colour bar per kind with the value range it spans (linear or symmetric-log)."""
    ranges = frame.legend  # what the renderer used for this frame's colours
    if not ranges:
        return
    em = imgui.get_font_size()
    dl = imgui.get_window_draw_list()
    for kind, (neg, pos) in RAMPS.items():
        if kind not in ranges:
            continue
        r = ranges[kind]
        origin = imgui.get_cursor_screen_pos()
        w, h, n = 9 * em, 0.8 * em, 24
        for i in range(n):
            t = (i + 0.5) / n * 2 - 1  # -1 .. 1
            m = abs(t) ** 0.75
            end = pos if t >= 0 else neg
            c = [z + (e - z) * m for z, e in zip(ZERO, end, strict=True)]
            x0 = origin.x + w * i / n
            dl.add_rect_filled(
                ImVec2(x0, origin.y), ImVec2(x0 + w / n + 0.5, origin.y + h), _col(*c)
            )
        imgui.dummy(ImVec2(w, h))
        imgui.same_line()
        scale = "symlog" if state.view.colors.symlog else "linear"
        learning = state.controllers.learning  # training: what the weight boxes show
        weights = learning.legend(frame.model, short=True) if learning is not None else "weights"
        label = weights if kind == "weight" else "values" if kind == "intermediate" else "stats"
        approx = "" if state.view.colors.normalise == "global" else "~"  # median of per-tensor
        imgui.text_disabled(f"{label} {approx}±{r:.3g} ({scale})")


def draw_help(state: AppState) -> None:
    em = imgui.get_font_size()
    imgui.set_next_window_pos(
        ImVec2(state.view.width / 2, state.view.height / 2), imgui.Cond_.always, ImVec2(0.5, 0.5)
    )
    flags = imgui.WindowFlags_.always_auto_resize | imgui.WindowFlags_.no_collapse
    opened = imgui.begin("Controls", True, flags)
    if opened[0]:
        if imgui.begin_table("controls", 2):
            imgui.table_setup_column("key", imgui.TableColumnFlags_.width_fixed, 7 * em)
            imgui.table_setup_column("action")
            for key, action in CONTROLS:
                imgui.table_next_row()
                imgui.table_next_column()
                imgui.text_colored(ImVec4(0.55, 0.8, 1.0, 1.0), key)
                imgui.table_next_column()
                imgui.text(action)
            imgui.end_table()
        imgui.text_disabled("Blue cells are weights, green intermediate values, yellow")
        imgui.text_disabled("aggregates (layer-norm and softmax statistics).")
    imgui.end()
    if opened[1] is False:
        state.view.show_help = False
