"""The superposition demo: near-orthogonal vectors, exact pair counts checked against brute
force, the 10,000 x 100 case, the background runner, and the panel headless (the times of
all these: bench/bench_superposition.py)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from xwindow import wait_until

from llmviz_desktop.demos import superposition as sup
from llmviz_desktop.demos.superposition import (
    Superposition,
    SuperpositionDemo,
    SuperpositionRunner,
    welch_bound_deg,
)

# ---------------------------------------------------------------- brute force


def brute_angles(v: np.ndarray) -> np.ndarray:
    """Angles (degrees, float64) of all distinct pairs, the whole cosine matrix at once."""
    v = v.astype(np.float64)
    c = v @ v.T
    iu = np.triu_indices(len(v), 1)
    return np.degrees(np.arccos(np.clip(c[iu], -1.0, 1.0)))


def brute_loss_and_grad(v: np.ndarray) -> tuple[float, np.ndarray]:
    """Soft-max |cos| and the tangent gradient of mean |cos|^p, densely in float64."""
    v = v.astype(np.float64)
    c = v @ v.T
    np.fill_diagonal(c, 0.0)
    p = sup.POWER
    m = len(v)
    loss = (np.sum(np.triu(c, 1) ** p) / (m * (m - 1) / 2)) ** (1 / p)
    g = (c ** (p - 1)) @ v
    g -= np.sum(g * v, axis=1, keepdims=True) * v
    return loss, g


@pytest.fixture
def small_blocks(monkeypatch):
    """Force many row blocks (64 rows each) so that the block seams are exercised."""
    monkeypatch.setattr(sup, "BLOCK_ENTRIES", 1)
    assert sup._block_size(300) == 64


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "args",
    [
        (1, 10, 5.0),
        (1001, 10, 5.0),
        (10, 1, 5.0),
        (10, 10_001, 5.0),
        (10, 10, 0.0),
        (10, 10, -3.0),
        (10, 10, 45.5),
        (10, 10, math.nan),
        (10.0, 10, 5.0),
        (10, "20", 5.0),
        (True, 10, 5.0),
        (10, 10, "5"),
    ],
)
def test_bad_inputs_raise_a_one_line_value_error(args):
    with pytest.raises(ValueError) as e:
        Superposition(*args)
    assert "\n" not in str(e.value) and str(e.value)


def test_bounds_are_inclusive_and_other_setters_validate():
    Superposition(2, 2, 45.0)
    Superposition(1000, 2, 1e-3)
    sp = Superposition(3, 5)
    with pytest.raises(ValueError):
        sp.set_epsilon(0.0)
    with pytest.raises(ValueError):
        Superposition(3, 5, lr=0.0)
    with pytest.raises(ValueError):
        sp.angle_histogram(bins=0)
    with pytest.raises(ValueError):
        sp.angle_histogram(range_deg=(90.0, 90.0))


def test_welch_bound():
    assert welch_bound_deg(10, 10) == 90.0
    assert welch_bound_deg(100, 10_000) == pytest.approx(84.29, abs=0.01)
    # 3 lines in the plane: 60° apart is optimal and meets the bound
    assert welch_bound_deg(2, 3) == pytest.approx(60.0)


# ---------------------------------------------------------------- the optimiser


def test_start_is_random_unit_rows_and_reproducible():
    a, b = Superposition(12, 40, seed=3), Superposition(12, 40, seed=3)
    assert a.vectors.dtype == np.float32 and a.vectors.shape == (40, 12)
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, Superposition(12, 40, seed=4).vectors)


def test_optimiser_raises_the_minimum_angle_and_fills_the_band():
    # 30 vectors in 10 dimensions: at best ~71-72° apart (Welch: 74.8°), so a ±20° band can
    # hold every pair, while random ones start ~42° apart
    sp = Superposition(10, 30, epsilon_deg=20.0)
    start = sp.stats()
    losses = [sp.step(10) for _ in range(30)]
    end = sp.stats()
    print(f"\n30 in 10: min angle {start['min_angle_deg']:.1f} -> {end['min_angle_deg']:.1f}°")
    assert end["min_angle_deg"] > start["min_angle_deg"] + 20.0
    assert end["min_angle_deg"] > 69.0
    assert end["min_angle_deg"] <= welch_bound_deg(10, 30) + 1e-6
    assert start["fraction_within"] < 0.8 and end["fraction_within"] == 1.0
    assert np.all(np.diff(losses) <= 0)  # kept steps never raise the loss
    assert sp.step_count == 300
    np.testing.assert_allclose(np.linalg.norm(sp.vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("n, m", [(2, 2), (5, 3), (10, 10), (20, 8), (50, 40), (100, 100)])
def test_m_at_most_n_becomes_orthogonal(n, m):
    sp = Superposition(n, m, seed=1)
    sp.step(300)
    s = sp.stats()
    assert s["min_angle_deg"] > 89.0 and s["max_angle_deg"] < 91.0, s
    assert s["fraction_within"] == 1.0


def test_min_angle_never_drops_much_while_optimising():
    sp = Superposition(16, 200, seed=2)
    best = 0.0
    for _ in range(40):
        sp.step()
        angle = sp.stats()["min_angle_deg"]
        assert angle > best - 0.25  # MAX_COS_SLACK = 0.003 in cosine ~ 0.2° here
        best = max(best, angle)


def test_blockwise_loss_and_gradient_match_dense(small_blocks):
    sp = Superposition(20, 300, seed=5)
    loss, max_cos, grad = sp._loss_and_grad(sp.vectors)
    ref_loss, ref_grad = brute_loss_and_grad(sp.vectors)
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    assert max_cos == pytest.approx(np.cos(np.radians(brute_angles(sp.vectors).min())), abs=1e-5)
    # the same direction (the block code drops a constant factor)
    k = float(np.sum(grad * ref_grad) / np.sum(ref_grad * ref_grad))
    np.testing.assert_allclose(grad, k * ref_grad, atol=1e-4 * float(np.abs(grad).max()))


def test_many_blocks_and_one_block_optimise_identically(small_blocks, monkeypatch):
    a = Superposition(20, 300, seed=7)
    a.step(5)
    monkeypatch.setattr(sup, "BLOCK_ENTRIES", 1 << 22)
    b = Superposition(20, 300, seed=7)
    b.step(5)
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-4)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("steps", [0, 20])
def test_histogram_and_stats_match_brute_force(steps, small_blocks):
    sp = Superposition(7, 300, epsilon_deg=12.0, seed=11)
    sp.step(steps)
    angles = brute_angles(sp.vectors)
    counts, edges = sp.angle_histogram()
    ref, ref_edges = np.histogram(angles, bins=90, range=(0, 180))
    assert counts.sum() == 300 * 299 // 2
    np.testing.assert_array_equal(counts, ref)
    np.testing.assert_allclose(edges, ref_edges)
    # a partial range, odd bin count: out-of-range angles are left out, as np.histogram does
    counts, _ = sp.angle_histogram(bins=37, range_deg=(60.0, 120.0))
    np.testing.assert_array_equal(counts, np.histogram(angles, bins=37, range=(60, 120))[0])
    s = sp.stats()
    assert s["pairs_total"] == 300 * 299 // 2
    assert s["within_eps"] == np.count_nonzero(np.abs(angles - 90.0) <= 12.0)
    assert s["fraction_within"] == s["within_eps"] / s["pairs_total"]
    assert s["min_angle_deg"] == pytest.approx(angles.min(), abs=1e-3)
    assert s["max_angle_deg"] == pytest.approx(angles.max(), abs=1e-3)


def test_scan_is_cached_until_something_changes():
    sp = Superposition(5, 50, epsilon_deg=10.0)
    first = sp.scan()
    assert sp.scan() is first
    assert sp.stats() == first.stats()
    sp.set_epsilon(30.0)
    assert sp.scan() is not first and sp.scan().within_eps >= first.within_eps
    wider = sp.scan()
    sp.step()
    assert sp.scan() is not wider


def test_ten_thousand_vectors_in_a_hundred_dimensions():
    sp = Superposition(100, 10_000, epsilon_deg=15.0)
    start = sp.scan(360)
    sp.step()  # also evaluates the random start: two passes
    sp.step()
    after = sp.scan(360)
    assert start.counts.sum() == after.counts.sum() == 49_995_000
    assert after.min_angle_deg > start.min_angle_deg + 3.0


# ---------------------------------------------------------------- the background runner


def test_runner_steps_in_the_background_pauses_and_resets():
    runner = SuperpositionRunner(Superposition(10, 30, epsilon_deg=20.0), scan_interval=0.05)
    try:
        snap = runner.wait_fresh(10)
        assert snap is not None and snap.step == 0 and snap.baseline is snap.scan
        runner.start()
        deadline = time.monotonic() + 10
        while runner.snapshot.step < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        runner.pause()
        time.sleep(0.1)  # a step in flight finishes
        snap = runner.wait_fresh(10)
        assert snap is not None and snap.step >= 30 and not runner.running
        assert snap.scan.min_angle_deg > snap.baseline.min_angle_deg
        steps = runner.superposition.step_count
        time.sleep(0.2)
        assert runner.superposition.step_count == steps  # paused means paused
        runner.set_epsilon(5.0)
        snap = runner.wait_fresh(10)
        assert snap.scan.epsilon_deg == snap.baseline.epsilon_deg == 5.0
        assert snap.baseline.within_eps == Superposition(10, 30, 5.0).stats()["within_eps"]
        runner.reset(Superposition(10, 31, epsilon_deg=5.0))
        snap = runner.wait_fresh(10)
        assert snap.step == 0 and snap.n_vectors == 31
        assert runner.error is None
    finally:
        runner.stop()


def test_runner_pauses_itself_when_converged():
    runner = SuperpositionRunner(Superposition(4, 3), max_steps_per_second=10_000)
    try:
        runner.start()
        deadline = time.monotonic() + 20
        while runner.running and time.monotonic() < deadline:
            time.sleep(0.02)
        snap = runner.wait_fresh(10)
        assert not runner.running and snap.converged
        assert snap.scan.min_angle_deg > 89.99
    finally:
        runner.stop()


def test_ui_thread_stays_responsive_while_ten_thousand_vectors_optimise():
    demo = SuperpositionDemo(n_dims=100, n_vectors=10_000, epsilon_deg=15.0)
    try:
        demo.runner.start()
        gaps = []
        t_start = last = time.perf_counter()
        # stand-in frames (read the snapshot, build arrays, sleep) through the first histogram
        # and two optimisation steps
        while demo.runner.superposition.step_count < 2 and last - t_start < 60.0:
            snap = demo.runner.snapshot
            if snap is not None:
                np.append(snap.scan.counts.astype(np.float64), 0.0)
            time.sleep(1 / 120)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        assert demo.runner.superposition.step_count >= 2
        # frames kept coming while it optimised (a worker holding the GIL through a step would
        # allow about one per step); the gaps themselves: bench/bench_superposition.py
        assert len(gaps) >= 20, len(gaps)
    finally:
        demo.close()


def test_demo_applies_settings_and_rejects_bad_ones():
    demo = SuperpositionDemo(n_dims=6, n_vectors=20, epsilon_deg=10.0)
    try:
        demo.apply(8, 25, 3)
        snap = demo.runner.wait_fresh(10)
        assert (snap.n_dims, snap.n_vectors, snap.seed) == (8, 25, 3)
        with pytest.raises(ValueError):
            demo.apply(8, 20_000, 3)
        with pytest.raises(ValueError):
            demo.set_epsilon(50.0)
        assert (demo.n_vectors, demo.epsilon_deg) == (25, 10.0)
        demo.set_epsilon(30.0)
        assert demo.runner.wait_fresh(10).scan.epsilon_deg == 30.0
    finally:
        demo.close()


# ---------------------------------------------------------------- the panel, headless


@pytest.fixture
def ui():
    from imgui_bundle import imgui, implot

    from llmviz_desktop.ui.headless import create_ui_context

    create_ui_context()  # imgui + implot contexts, our font
    io = imgui.get_io()
    io.backend_flags |= imgui.BackendFlags_.renderer_has_textures  # no GL: atlas stays on CPU
    io.display_size = imgui.ImVec2(1280, 800)
    io.delta_time = 1 / 60
    yield imgui
    implot.destroy_context()
    imgui.destroy_context()


def draw_frame(imgui, demo) -> int:
    from llmviz_desktop.ui.superposition_panel import draw_superposition_panel

    imgui.new_frame()
    draw_superposition_panel(demo)
    imgui.render()
    return imgui.get_draw_data().total_vtx_count


def test_panel_draws_in_every_state(ui):
    demo = SuperpositionDemo(n_dims=8, n_vectors=40, epsilon_deg=10.0)
    try:
        draw_frame(ui, demo)  # the first frame may come before any snapshot
        assert demo.runner.wait_fresh(10) is not None
        assert draw_frame(ui, demo) > 0
        demo.log_scale = True
        assert draw_frame(ui, demo) > 0
        demo.runner.start()
        wait_until(lambda: demo.runner.superposition.step_count > 0, what="a step")
        assert draw_frame(ui, demo) > 0  # running
        demo.runner.pause()
        demo.message = "n_vectors must be in 2..10000, got 20000"
        assert draw_frame(ui, demo) > 0
        demo.visible = False
        assert draw_frame(ui, demo) == 0  # hidden: draws nothing
    finally:
        demo.close()


def test_panel_frame_cost_does_not_grow_with_m(ui):
    """What the panel draws (vertices) hardly changes from 1,000 to 10,000 vectors (100 times
    the pairs): a histogram of fixed bins, never a mark per vector or per pair (its time:
    bench/bench_superposition.py)."""
    vertices = []
    for m in (1_000, 10_000):
        demo = SuperpositionDemo(n_dims=100, n_vectors=m, epsilon_deg=15.0)
        try:
            assert demo.runner.wait_fresh(30) is not None
            # a new auto-sized window is hidden on its first frame, and the dock (ui/dock.py)
            # sizes it from the height it asked for the frame before: let it settle
            for _ in range(3):
                drawn = draw_frame(ui, demo)
            vertices.append(drawn)
        finally:
            demo.close()
    assert 0 < vertices[1] <= 1.2 * vertices[0], vertices
