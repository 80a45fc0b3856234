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
from xwindow import app_env, cpu_share, require, running_app, screenshot, xdo, xvfb


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
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState

    class StandIn(LlmvizWindow):  # every method of the window; __init__ makes no window
        def __init__(self):
            m = load_model("nano-sort")
            cam = camera_preset("overview", m.scene, max(width, 1), max(height, 1))
            self.state = AppState.create(m, cam, width=width, height=height)
            self.input = SimpleNamespace(set_delta_time=lambda dt: None, resize=lambda *a: None)
            self.wnd = SimpleNamespace(name="stand-in", buffer_size=(width, height))
            self.frame = None  # drawing would fail on this
            self._flight = None
            self._iconified = False
            self.pacer = FramePacer()

    return StandIn()


def test_a_zero_sized_framebuffer_draws_nothing_and_waits():
    """A 0x0 framebuffer (what a minimised window reports on some platforms; X cannot make
    one): nothing is drawn, and each frame waits instead of spinning."""
    from llmviz_desktop.app.pacing import HIDDEN_WAIT_S

    window = stand_in_window(0, 0)
    start = time.perf_counter()
    for _ in range(3):
        window.on_render(0.0, 0.016)
    assert time.perf_counter() - start >= 3 * HIDDEN_WAIT_S * 0.9


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
def managed(tmp_path_factory):
    """The app in an X display with a window manager (openbox): it is what minimises."""
    with xvfb(1024, 700) as display:
        home = tmp_path_factory.mktemp("faults-home")
        env = app_env(display, home)
        wm = subprocess.Popen(
            [require("openbox")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(1.0)
            with running_app(env) as (proc, window):
                yield env, proc, window, home
        finally:
            wm.terminate()
            wm.wait(timeout=10)


def coloured_pixels(img) -> int:
    mx, mn = img.max(axis=-1), img.min(axis=-1)
    return int(((mx > 60) & (mx - mn > 40)).sum())


def alive_without_errors(proc, home) -> None:
    assert proc.poll() is None, "the app exited"
    log = home / "state" / "llmviz.log"
    assert not log.exists() or "failed" not in log.read_text(), log.read_text()[-2000:]


def test_an_idle_window_does_not_spin(managed):
    """Nothing moving and no input: the window redraws at the idle rate (pacing.py), not as
    fast as software GL allows (which took a whole core before)."""
    env, proc, window, home = managed
    time.sleep(2.5)  # past IDLE_AFTER_S
    share = cpu_share(proc.pid, 3.0)
    assert share < 0.35, f"idle window used {share:.0%} of a core"
    alive_without_errors(proc, home)


def test_a_window_minimised_mid_animation_idles_and_comes_back_playing(managed):
    """Minimised while the walkthrough plays: nothing is drawn and the CPU rests; restored,
    the walkthrough goes on playing."""
    env, proc, window, home = managed
    shown = coloured_pixels(screenshot(env))
    assert shown > 2000, "the scene is not visible before minimising"
    xdo(env, "mousemove", "700", "690")  # over empty space, away from the panels
    xdo(env, "key", "Right")
    xdo(env, "key", "space")  # play
    time.sleep(0.5)
    xdo(env, "windowminimize", "--sync", window)
    time.sleep(0.5)
    share = cpu_share(proc.pid, 3.0)
    assert share < 0.1, f"minimised window used {share:.0%} of a core"
    assert coloured_pixels(screenshot(env)) < shown / 10, "still drawn while minimised"
    xdo(env, "windowactivate", "--sync", window)
    first = screenshot(env)
    assert coloured_pixels(first) > shown / 2, "the scene did not come back"
    second = screenshot(env)
    panel = (slice(0, 700), slice(1024 - 450, 1024))  # the walkthrough panel: its timeline
    assert (np.abs(second[panel] - first[panel]).max(axis=-1) > 40).sum() > 20, "not playing"
    xdo(env, "key", "space")  # pause, for the tests after this one
    alive_without_errors(proc, home)


def test_a_window_shrunk_to_one_pixel_survives_and_grows_back(managed):
    env, proc, window, home = managed
    xdo(env, "windowsize", "--sync", window, "1", "1")
    time.sleep(1.5)
    alive_without_errors(proc, home)
    xdo(env, "windowsize", "--sync", window, "1000", "650")
    assert coloured_pixels(screenshot(env)) > 2000, "the scene did not come back"
    alive_without_errors(proc, home)


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
                time.sleep(0.3)
            time.sleep(3.0)  # past SETTINGS_EVERY_S
            before = screenshot(env)[:700, :1100]
            proc.kill()
            proc.wait(timeout=10)
        saved = json.loads((tmp_path / "config" / "settings.json").read_text())
        assert (saved["window_width"], saved["window_height"]) == (1100, 700)
        assert saved["chapter"] == "overview" and saved["step"] == 2, saved
        with running_app(env) as (proc, window):
            xdo(env, "windowmove", window, "0", "0")
            xdo(env, "mousemove", "700", "690")
            after = screenshot(env)[:700, :1100]
        panel = (slice(40, 660), slice(1100 - 450, 1100 - 10))  # the walkthrough panel
        diff = np.abs(after[panel] - before[panel]).max(axis=-1)
        assert (diff > 40).mean() < 0.002, "the walkthrough did not come back at the same step"
