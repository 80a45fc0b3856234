"""The 'Watch it learn' panel: live training controls and curves (implot), what the weight
boxes show, and replay of a checkpoint directory with its timeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imgui_bundle import ImVec2, ImVec4, imgui, implot

from ..session.frame import Frame
from ..session.learning import VIEWS
from ..session.state import AppState
from . import dock, uimap
from .palette import MUTED

WARN = ImVec4(1.0, 0.7, 0.3, 1.0)
LOSS_FLOOR = 1e-4  # the loss plot's log axis stops here: a loss of 0 is drawn on the floor


@dataclass
class LearnActions:
    start: bool = False
    open_dir: str | None = None


_dir_text = {"value": "", "prefilled": ""}  # the folder field; whether it was pre-filled


def draw_training_panel(state: AppState, frame: Frame, actions: LearnActions) -> None:
    learning = state.controllers.learning
    if learning is None:
        return
    em = imgui.get_font_size()
    # the bottom of the left column: expanding grows it upward, under the model panel (dock)
    dock.place("Watch it learn")
    imgui.set_next_window_collapsed(True, imgui.Cond_.first_use_ever)
    if not imgui.begin("Watch it learn", None, imgui.WindowFlags_.always_auto_resize)[0]:
        imgui.end()
        return
    t = learning.training
    if t is None or not t.running:
        if uimap.button("Train from scratch" if t is None else "Resume"):
            actions.start = True
            _symlog_for_change(state)
    else:
        if uimap.button("Pause"):
            t.pause()
    if t is not None:
        imgui.same_line()
        if uimap.button("Reset"):
            learning.reset_training()
        imgui.set_next_item_width(8 * em)
        changed, lr = imgui.input_float("learning rate", t.lr, 1e-4, 1e-3, "%.5f")
        uimap.mark("input", "learning rate")
        if changed and lr > 0:
            t.set_lr(lr)
        imgui.set_next_item_width(8 * em)
        changed, batch = imgui.input_int("batch size", t.batch_size, 8, 32)
        uimap.mark("input", "batch size")
        if changed and 1 <= batch <= 1024:
            t.set_batch_size(batch)
    imgui.text("weight boxes show")
    for n, view in enumerate(VIEWS):
        if n:
            imgui.same_line()
        if uimap.radio_button(view, learning.view == view):
            learning.view = view
            _symlog_for_change(state)
    if learning.training is not None or learning.replay is not None:
        scale = "symmetric log" if state.view.colors.symlog else "linear"
        imgui.text_colored(MUTED, f"now: {learning.legend(frame.model)} ({scale} colours)")
    imgui.separator()
    imgui.text("replay checkpoints (a folder `llmviz train` wrote)")
    # pre-filled once with where the user left off (a field the user empties stays empty)
    if not _dir_text["prefilled"] and learning.recent:
        _dir_text["value"] = _dir_text["prefilled"] = learning.recent[0]
    imgui.set_next_item_width(14 * em)
    entered, text = imgui.input_text(
        "##dir", _dir_text["value"], imgui.InputTextFlags_.enter_returns_true
    )
    uimap.mark("input", "##dir")
    _dir_text["value"] = text
    imgui.same_line()
    if uimap.button("Open") or entered:
        actions.open_dir = text
        _symlog_for_change(state)
    if learning.recent:
        imgui.set_next_item_width(14 * em)
        opened = imgui.begin_combo(
            "recent", "open a recent folder...", imgui.ComboFlags_.height_regular
        )
        uimap.mark("combo", "recent")
        if opened:
            for folder in learning.recent:
                if imgui.selectable(folder, False)[0]:
                    _dir_text["value"] = actions.open_dir = folder
                    _symlog_for_change(state)
            imgui.end_combo()
    r = learning.replay
    if r is not None:
        imgui.text_colored(MUTED, f"{len(r.steps)} checkpoints, steps {r.first:,}..{r.last:,}")
        if uimap.button("Pause" if learning.replay_playing else "Play"):
            if not learning.replay_playing and learning.replay_step >= r.last:
                learning.replay_step = float(r.first)
            learning.replay_playing = not learning.replay_playing
        imgui.same_line()
        imgui.set_next_item_width(6 * em)
        _, learning.replay_speed = imgui.slider_float(
            "ckpt/s", learning.replay_speed, 0.25, 8.0, "%.2f"
        )
        uimap.mark("slider", "ckpt/s")
        imgui.set_next_item_width(-1)
        changed, step = imgui.slider_float(
            "##replay", learning.replay_step, float(r.first), float(r.last), "step %.0f"
        )
        uimap.mark("slider", "##replay")
        if changed:
            learning.replay_step = step
    said = [m for m in (learning.message, t.error if t is not None else "") if m]
    for message in said:  # a refused folder, or a training step that failed (then paused)
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + 20 * em)
        imgui.text_colored(WARN, message)
        imgui.pop_text_wrap_pos()
    if frame.model.label:
        imgui.text_colored(
            MUTED, f"{frame.model.label} · {frame.model.input_text} -> {frame.model.output_text}"
        )
    if t is not None:  # last: the controls above stay in view when the column is short
        _curves(t, em)
    imgui.end()


def _symlog_for_change(state: AppState) -> None:
    """The change since the start is small and spread over decades: symmetric-log colours
    show the small changes too (the model panel's colour-scale switch turns it back)."""
    learning = state.controllers.learning
    if learning is not None and learning.view == "change":
        state.view.colors.symlog = True


def loss_axis(loss: np.ndarray) -> tuple[float, np.ndarray]:
    """The log axis's lower limit (a decade below the smallest loss, never under LOSS_FLOOR)
    and the losses to draw, raised to it: a loss of 0 stays visible on the floor."""
    positive = loss[loss > 0]
    low = float(positive.min()) if positive.size else LOSS_FLOOR
    floor = min(max(10 ** np.floor(np.log10(low) - 0.3), LOSS_FLOOR), 0.1)
    return floor, np.maximum(loss, floor)


def _curves(t, em: float) -> None:
    with t.lock:
        h = t.history
        steps = np.asarray(h.steps, np.float64)
        loss = np.asarray(h.loss, np.float64)
        acc = np.asarray(h.accuracy, np.float64)
        sorted_x = np.asarray(h.sorted_steps, np.float64)
        sorted_y = np.asarray(h.sorted, np.float64) / 729.0
    last = f"step {int(steps[-1]):,} · loss {loss[-1]:.4f}" if len(steps) else "not started"
    sorts = f" · sorts {int(sorted_y[-1] * 729)}/729" if len(sorted_y) else ""
    imgui.text(last + sorts)
    if len(steps) < 2:
        return
    size = ImVec2(19 * em, 8 * em)
    floor, shown = loss_axis(loss)
    # one curve: its name is the axis label, no legend over it
    if implot.begin_plot("loss", size, implot.Flags_.no_legend):
        at_floor = " (0 drawn at floor)" if (loss < floor).any() else ""
        implot.setup_axes("step", "loss" + at_floor)
        implot.setup_axis_scale(implot.ImAxis_.y1, implot.Scale_.log10)
        top = max(2.0, float(loss.max()) * 1.2)
        implot.setup_axes_limits(0, max(steps[-1], 10), floor, top, implot.Cond_.always)
        implot.plot_line("loss", steps, shown)
        implot.end_plot()
    # the legend below the plot, outside it: it never covers a curve
    if implot.begin_plot("accuracy", ImVec2(size.x, size.y + 1.6 * em)):
        implot.setup_axes("step", "accuracy")
        implot.setup_legend(
            implot.Location_.south, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal
        )
        implot.setup_axes_limits(0, max(steps[-1], 10), 0.0, 1.02, implot.Cond_.always)
        implot.plot_line("token acc", steps, acc)
        if len(sorted_x):
            implot.plot_line("sorted / 729", sorted_x, sorted_y)
        implot.end_plot()
