"""The 'Superposition' panel: how many nearly-orthogonal directions fit in N dimensions.

Sliders for N, M, ε and the seed; Start / Pause / Reset; the histogram of all pairwise angles
(implot) against the random start, with the 90° ± ε band; the stats line and a short
explanation. All computation happens on the runner's worker thread: this panel only reads the
latest immutable Snapshot, so a frame costs the same at M = 10,000 as at M = 10."""

from __future__ import annotations

import math

import numpy as np
from imgui_bundle import ImVec2, ImVec4, imgui, implot

from ..demos.superposition import EPS_MAX, M_RANGE, N_RANGE, Snapshot, SuperpositionDemo
from . import dock, uimap
from .palette import MUTED

WARN = ImVec4(1.0, 0.7, 0.3, 1.0)
GOOD = ImVec4(0.55, 0.9, 0.6, 1.0)
BAND = ImVec4(0.45, 0.9, 0.55, 1.0)
NOW = ImVec4(0.35, 0.8, 0.95, 1.0)
START = ImVec4(1.0, 0.82, 0.35, 1.0)

ABOUT = (
    "In N dimensions only N vectors can be exactly perpendicular, but the number that are "
    "nearly perpendicular (every pair within 90° ± ε) grows exponentially with N. Random "
    "directions already come close: two random unit vectors in N = {n} dimensions have a "
    "cosine of about ±1/sqrt(N) = ±{cos:.2f}, so a typical pair sits at 90° ± {typ:.1f}°. "
    "{optimise} This is how a transformer with n_embd dimensions can hold far more than n_embd "
    "features: each gets its own direction, and the small overlaps are interference the "
    "network learns to tolerate ('superposition')."
)
OPTIMISE_MANY = (
    "With M > N, optimising cannot shrink that typical spread (once M >> N the average cos² "
    "cannot go below about 1/N), but it pushes the outliers apart, which lifts the smallest "
    "angle toward its limit."
)
OPTIMISE_FEW = "With M <= N, the optimiser can make every pair exactly perpendicular."


def draw_superposition_panel(demo: SuperpositionDemo) -> None:
    """One frame of the 'Superposition' window; does nothing while demo.visible is False."""
    if not demo.visible:
        return
    em = imgui.get_font_size()
    dock.place("Superposition")  # the bottom of the right column, under the walkthrough
    expanded, opened = imgui.begin("Superposition", demo.visible)
    if opened is False:
        demo.visible = False
        demo.runner.pause()  # nothing to watch: give the CPU back
    if not expanded:
        imgui.end()
        return
    _controls(demo, em)
    snap = demo.runner.snapshot
    if snap is None:
        imgui.text_colored(MUTED, "computing the angles of the random start...")
    else:
        imgui.push_text_wrap_pos(0.0)  # the panel's width (the dock sets it)
        _stats(demo, snap)
        imgui.pop_text_wrap_pos()
        _histogram(demo, snap, em)
    if demo.message:
        imgui.text_colored(WARN, demo.message)
    if demo.runner.error:
        imgui.text_colored(WARN, demo.runner.error)
    imgui.separator()
    imgui.push_text_wrap_pos(0.0)  # the panel's width (the dock sets it)
    n = demo.n_dims
    typ = math.degrees(math.asin(min(1.0, 1.0 / math.sqrt(n))))
    optimise = OPTIMISE_MANY if demo.n_vectors > n else OPTIMISE_FEW
    imgui.text_colored(MUTED, ABOUT.format(n=n, cos=1.0 / math.sqrt(n), typ=typ, optimise=optimise))
    imgui.pop_text_wrap_pos()
    imgui.end()


def _controls(demo: SuperpositionDemo, em: float) -> None:
    runner = demo.runner
    log = imgui.SliderFlags_.logarithmic | imgui.SliderFlags_.always_clamp
    imgui.set_next_item_width(14 * em)
    _, demo.edit_n_dims = imgui.slider_int(
        "N  dimensions", demo.edit_n_dims, N_RANGE[0], N_RANGE[1], "%d", log
    )
    uimap.mark("slider", "N  dimensions")
    apply = imgui.is_item_deactivated_after_edit()
    imgui.set_next_item_width(14 * em)
    _, demo.edit_n_vectors = imgui.slider_int(
        "M  vectors", demo.edit_n_vectors, M_RANGE[0], M_RANGE[1], "%d", log
    )
    uimap.mark("slider", "M  vectors")
    apply |= imgui.is_item_deactivated_after_edit()
    imgui.set_next_item_width(14 * em)
    _, demo.edit_seed = imgui.slider_int(
        "seed", demo.edit_seed, 0, 999, "%d", imgui.SliderFlags_.always_clamp
    )
    uimap.mark("slider", "seed")
    apply |= imgui.is_item_deactivated_after_edit()
    if apply and (demo.edit_n_dims, demo.edit_n_vectors, demo.edit_seed) != (
        demo.n_dims,
        demo.n_vectors,
        demo.seed,
    ):
        try:
            demo.apply(demo.edit_n_dims, demo.edit_n_vectors, demo.edit_seed)
            demo.message = ""
        except ValueError as e:
            demo.message = str(e)
    imgui.set_next_item_width(14 * em)
    changed, eps = imgui.slider_float(
        "ε  degrees", demo.epsilon_deg, 0.5, EPS_MAX, "90° ± %.1f°", imgui.SliderFlags_.always_clamp
    )
    uimap.mark("slider", "ε  degrees")
    if changed:
        try:
            demo.set_epsilon(eps)
            demo.message = ""
        except ValueError as e:
            demo.message = str(e)

    snap = runner.snapshot
    converged = snap is not None and snap.converged
    if runner.running:
        if uimap.button("Pause"):
            runner.pause()
    else:
        imgui.begin_disabled(converged)
        if uimap.button("Start"):
            demo.message = ""
            runner.start()
        imgui.end_disabled()
    imgui.same_line()
    if uimap.button("Reset"):
        demo.reset()
    imgui.same_line()
    _, demo.log_scale = uimap.checkbox("log counts", demo.log_scale)
    imgui.same_line()
    if converged:
        imgui.text_colored(GOOD, "converged")
    elif runner.running:
        imgui.text_colored(MUTED, "optimising...")
    elif runner.busy:
        imgui.text_colored(MUTED, "counting pairs...")
    else:
        imgui.text_colored(MUTED, "paused")


def _stats(demo: SuperpositionDemo, snap: Snapshot) -> None:
    s, b = snap.scan, snap.baseline
    pct = 100.0 * s.fraction_within
    imgui.text(
        f"{snap.n_vectors:,} vectors in {snap.n_dims} dimensions: {_pct(pct)}% of pairs "
        f"within 90° ± {s.epsilon_deg:.1f}°; min angle {s.min_angle_deg:.1f}°"
    )
    ms = snap.step_seconds * 1000.0
    timing = f" · {ms:.1f} ms/step" if ms < 10 else f" · {ms:,.0f} ms/step"
    timing = timing if snap.step_seconds else ""
    imgui.text_colored(
        MUTED,
        f"{s.within_eps:,} of {s.pairs_total:,} pairs · angles {s.min_angle_deg:.1f}°.."
        f"{s.max_angle_deg:.1f}° · step {snap.step:,}{timing}",
    )
    imgui.text_colored(
        MUTED,
        f"random start: {_pct(100.0 * b.fraction_within)}% within, min angle "
        f"{b.min_angle_deg:.1f}° · no arrangement beats {snap.welch_deg:.1f}° (Welch bound)",
    )


def _pct(p: float) -> str:
    """Percentages that do not round a few missing pairs up to 100."""
    if p >= 100.0:
        return "100"
    if p >= 99.99:
        return f"{math.floor(p * 1000) / 1000:.3f}"
    return f"{math.floor(p * 100) / 100:.2f}"


def _histogram(demo: SuperpositionDemo, snap: Snapshot, em: float) -> None:
    s, b = snap.scan, snap.baseline
    edges = s.edges
    width = float(edges[1] - edges[0])
    centres = 0.5 * (edges[:-1] + edges[1:])
    now = s.counts.astype(np.float64)
    start = b.counts.astype(np.float64)
    # the random start spans the widest range of angles: frame that, plus a margin
    lo = max(0.0, min(b.min_angle_deg, s.min_angle_deg) - 3.0)
    hi = min(180.0, max(b.max_angle_deg, s.max_angle_deg) + 3.0)
    top = max(float(now.max()), float(start.max()), 1.0)
    eps = s.epsilon_deg
    if not implot.begin_plot("##angles", ImVec2(-1, 15 * em), implot.Flags_.no_menus):
        return
    implot.setup_axes("angle between a pair (degrees)", "pairs")
    if demo.log_scale:
        implot.setup_axis_scale(implot.ImAxis_.y1, implot.Scale_.log10)
        floor = 0.5  # empty bins sit below the axis
        now, start = np.maximum(now, floor), np.maximum(start, floor)
        implot.setup_axes_limits(lo, hi, floor, top * 2.0, implot.Cond_.always)
    else:
        implot.setup_axes_limits(lo, hi, 0.0, top * 1.08, implot.Cond_.always)
    # below the plot, outside it: the legend never covers the bars
    implot.setup_legend(
        implot.Location_.south, implot.LegendFlags_.outside | implot.LegendFlags_.horizontal
    )
    y0 = 0.5 if demo.log_scale else 0.0
    band_x = np.array([90.0 - eps, 90.0 + eps])
    implot.plot_shaded(
        f"90° ± {eps:.1f}°",
        band_x,
        np.full(2, y0),
        np.full(2, top * 2.0),
        implot.Spec(fill_color=BAND, fill_alpha=0.12),
    )
    implot.plot_inf_lines("##band", band_x, implot.Spec(line_color=BAND, line_weight=1.0))
    implot.plot_bars(
        f"step {snap.step:,}", centres, now, width, implot.Spec(fill_color=NOW, line_color=NOW)
    )
    implot.plot_stairs(
        "random start",
        edges,
        np.append(start, start[-1]),
        implot.Spec(line_color=START, line_weight=1.5),
    )
    implot.end_plot()
