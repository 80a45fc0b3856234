"""GL and window faults: no OpenGL 3.3 gives one clear line and exit 2, never a traceback; a
minimised window neither crashes nor spins."""

from __future__ import annotations

import json
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
from cli_run import llmviz
from xwindow import (
    app_env,
    drawn,
    frame_now,
    grab,
    require,
    running_app,
    screenshot,
    wait_until,
    xdo,
    xvfb,
)


@pytest.mark.parametrize(
    "env",
    [
        {"MESA_GL_VERSION_OVERRIDE": "3.0"},  # the driver offers only OpenGL 3.0
        {"__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent.json"},  # no EGL driver at all
    ],
)
def test_headless_without_opengl_3_3_exits_2_with_one_line(tmp_path, env):
    out = tmp_path / "x.png"
    result = llmviz("render", "--out", str(out), env=env, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "OpenGL 3.3" in lines[0]
    assert not out.exists()


@pytest.mark.window
def test_window_without_opengl_3_3_exits_2_with_one_line(tmp_path):
    with xvfb(800, 600) as display:
        env = app_env(display, tmp_path)
        result = llmviz(env={**env, "MESA_GL_VERSION_OVERRIDE": "3.0"}, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("llmviz:")]
    assert len(errors) == 1 and "OpenGL 3.3" in errors[0]


def stand_in_window(width: int, height: int):
    """LlmvizWindow's methods on a stand-in for the moderngl-window object (no GL, no glfw),
    showing nano-sort's overview at width x height."""
    from llmviz_desktop.app.pacing import FramePacer
    from llmviz_desktop.app.window import LlmvizWindow
    from llmviz_desktop.scene.framing import camera_preset, default_panels, free_rect
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState

    class StandIn(LlmvizWindow):  # every method of the window; __init__ makes no window
        def __init__(self):
            m = load_model("nano-sort")
            cam = camera_preset("overview", m.scene, max(width, 1), max(height, 1))
            self.state = AppState.create(m, cam, width=width, height=height)
            w, h = max(width, 1), max(height, 1)  # as the window's __init__: framed for
            self.state.view.framed_for = (w, h, free_rect(w, h, default_panels(w, h)))
            self.input = SimpleNamespace(set_delta_time=lambda dt: None, resize=lambda *a: None)
            self.wnd = SimpleNamespace(name="stand-in", buffer_size=(width, height))
            self.frame = None  # drawing would fail on this
            self.shown = None  # no frame drawn yet
            self._flight = None
            self._iconified = False
            self.pacer = FramePacer()

    return StandIn()


def test_a_zero_sized_framebuffer_draws_nothing_and_waits(monkeypatch):
    """A 0x0 framebuffer (what a minimised window reports on some platforms; X cannot make
    one): nothing is drawn, and each frame waits instead of spinning."""
    from llmviz_desktop.app.pacing import HIDDEN_WAIT_S

    window = stand_in_window(0, 0)
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # the window's wait, recorded
    for _ in range(3):
        window.on_render(0.0, 0.016)
    assert waits == [HIDDEN_WAIT_S] * 3


def test_resizing_reframes_an_untouched_overview_and_keeps_a_chosen_view():
    from llmviz_desktop.scene.framing import camera_preset

    window = stand_in_window(1280, 800)
    scene = window.state.home.scene
    window.wnd.buffer_size = (900, 600)
    window.on_resize(900, 600)
    assert window.state.view.camera == camera_preset("overview", scene, 900, 600)
    chosen = window.state.view.camera.orbited(40.0, 0.0)
    window.state.view.camera = chosen
    window.wnd.buffer_size = (1280, 800)
    window.on_resize(1280, 800)
    assert window.state.view.camera == chosen


def test_a_bad_folder_in_the_model_panel_is_one_status_line_and_keeps_the_model(tmp_path):
    """The model panel's folder field: a folder that is not a checkpoint is said in one
    line naming it (once), and the model on screen stays; a real checkpoint folder opens."""
    from llmviz_desktop.resources import shipped_model_dir

    window = stand_in_window(1280, 800)
    before = window.state.home
    bad = tmp_path / "not-a-checkpoint"
    bad.mkdir()
    (bad / "config.json").write_text("{")
    window._switch_model(str(bad))
    status = window.state.messages.status
    assert str(bad) in status and status.count(str(bad)) == 1 and "\n" not in status, status
    assert window.state.home is before
    folder = str(shipped_model_dir("nano-sort"))
    window._switch_model(folder)
    assert window.state.messages.status == "" and window.state.home.name == folder
    assert window.state.home.params is not None


@pytest.fixture(scope="module")
def managed_display():
    """An X display with a window manager (openbox): it is what minimises."""
    with xvfb(1024, 700) as display:
        env = {"DISPLAY": display}
        wm = subprocess.Popen(
            [require("openbox")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:

            def wm_running() -> bool:
                out = subprocess.run(
                    ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                return "window id" in out.stdout

            wait_until(wm_running, timeout=30, what="openbox to manage the display")
            yield display
        finally:
            wm.terminate()
            wm.wait(timeout=10)


@pytest.fixture
def managed(managed_display, tmp_path):
    """The app, on its own (a fresh process and settings per test: any order works), in the
    display with the window manager."""
    home = tmp_path / "home"
    env = app_env(managed_display, home)
    with running_app(env) as (proc, window):
        yield env, proc, window, home


def frames_in(env, seconds: float) -> int:
    """Frames the app drew (its UI-map counter) over the next `seconds`."""
    before = frame_now(env)
    time.sleep(seconds)  # the span counted, not a wait for something
    return frame_now(env) - before


def coloured_pixels(img) -> int:
    mx, mn = img.max(axis=-1), img.min(axis=-1)
    return int(((mx > 60) & (mx - mn > 40)).sum())


def alive_without_errors(proc, home) -> None:
    assert proc.poll() is None, "the app exited"
    log = home / "state" / "llmviz.log"
    assert not log.exists() or "failed" not in log.read_text(), log.read_text()[-2000:]


@pytest.mark.window
@pytest.mark.slow
def test_an_idle_window_does_not_spin(managed):
    """Nothing moving and no input: the window redraws at the idle rate (pacing.py), not as
    fast as software GL allows (which took a whole core before). Counted in frames drawn, not
    CPU share (bench/window_cpu.py measures that): a slower machine draws fewer, never more."""
    from llmviz_desktop.app.pacing import IDLE_FPS

    env, proc, window, home = managed
    gaps: list[float] = []
    last = [frame_now(env), time.monotonic()]

    def idle_paced() -> bool:  # three frames in a row at least 0.8 / IDLE_FPS apart
        frame, now = frame_now(env), time.monotonic()
        if frame != last[0]:
            gaps.append(now - last[1])
            last[:] = [frame, now]
        return len(gaps) >= 3 and min(gaps[-3:]) >= 0.8 / IDLE_FPS

    wait_until(idle_paced, timeout=30, interval=0.01, what="the idle frame rate")
    n = frames_in(env, 2.0)
    assert n <= 2.0 * IDLE_FPS * 1.5 + 2, f"{n} frames in 2 s while idle"
    alive_without_errors(proc, home)


@pytest.mark.window
@pytest.mark.slow
def test_a_window_minimised_mid_animation_idles_and_comes_back_playing(managed):
    """Minimised while the walkthrough plays: nothing is drawn and the CPU rests; restored,
    the walkthrough goes on playing."""
    env, proc, window, home = managed
    shown = coloured_pixels(screenshot(env))
    assert shown > 2000, "the scene is not visible before minimising"
    xdo(env, "mousemove", "700", "690")  # over empty space, away from the panels
    xdo(env, "key", "Right")
    xdo(env, "key", "space")  # play
    drawn(env)
    xdo(env, "windowminimize", "--sync", window)

    def stopped() -> bool:  # no new frame for a while (the pacer wakes, draws nothing)
        before = frame_now(env)
        time.sleep(0.5)
        return frame_now(env) == before

    wait_until(stopped, timeout=20, interval=0, what="drawing to stop while minimised")
    assert frames_in(env, 1.5) == 0, "frames drawn while minimised"
    assert coloured_pixels(grab(env)) < shown / 10, "still drawn while minimised"
    xdo(env, "windowactivate", "--sync", window)
    shot: dict[str, np.ndarray] = {}

    def scene_back() -> bool:
        shot["first"] = grab(env)
        return coloured_pixels(shot["first"]) > shown / 2

    wait_until(scene_back, what="the scene to come back")
    panel = (slice(0, 700), slice(1024 - 450, 1024))  # the walkthrough panel: its timeline

    def playing() -> bool:
        return (np.abs(grab(env)[panel] - shot["first"][panel]).max(axis=-1) > 40).sum() > 20

    wait_until(playing, what="the walkthrough to go on playing")
    alive_without_errors(proc, home)


@pytest.mark.window
def test_a_window_shrunk_to_one_pixel_survives_and_grows_back(managed):
    env, proc, window, home = managed
    xdo(env, "windowsize", "--sync", window, "1", "1")
    drawn(env, 20)  # frames at one pixel
    alive_without_errors(proc, home)
    xdo(env, "windowsize", "--sync", window, "1000", "650")
    assert coloured_pixels(screenshot(env)) > 2000, "the scene did not come back"
    alive_without_errors(proc, home)


@pytest.mark.window
@pytest.mark.slow
def test_a_killed_session_loses_nothing(tmp_path):
    """Settings are saved within seconds of a change, not only at a clean exit: after a
    SIGKILL the next launch opens at the same size, in the same walkthrough step."""
    with xvfb(1280, 800) as display:
        env = app_env(display, tmp_path)
        with running_app(env) as (proc, window):
            xdo(env, "windowmove", window, "0", "0")
            xdo(env, "windowsize", "--sync", window, "1100", "700")
            xdo(env, "mousemove", "700", "690")  # over empty space, away from the panels
            for _ in range(2):
                xdo(env, "key", "Right")
                drawn(env)
            settings = tmp_path / "config" / "settings.json"

            def saved_step_2() -> dict | None:  # within SETTINGS_EVERY_S of the change
                try:
                    saved = json.loads(settings.read_text())
                except (OSError, ValueError):
                    return None
                return saved if saved.get("step") == 2 else None

            wait_until(saved_step_2, timeout=30, what="the settings to be saved")
            before = screenshot(env)[:700, :1100]
            proc.kill()
            proc.wait(timeout=10)
        saved = json.loads(settings.read_text())
        assert (saved["window_width"], saved["window_height"]) == (1100, 700)
        assert saved["chapter"] == "overview" and saved["step"] == 2, saved
        with running_app(env) as (proc, window):
            xdo(env, "windowmove", window, "0", "0")
            xdo(env, "mousemove", "700", "690")
            after = screenshot(env)[:700, :1100]
        panel = (slice(40, 660), slice(1100 - 450, 1100 - 10))  # the walkthrough panel
        diff = np.abs(after[panel] - before[panel]).max(axis=-1)
        assert (diff > 40).mean() < 0.002, "the walkthrough did not come back at the same step"
