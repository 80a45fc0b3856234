"""The window's own code, headless (moderngl-window's headless window on EGL): it starts on
whatever the settings and --model say, contains every per-frame failure, and reads settings and
chapter files that are FIFOs, devices or huge without blocking or reading them whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import moderngl_window as mglw
import pytest

from llmviz_desktop.resources import shipped_model_dir
from llmviz_desktop.session import errors
from llmviz_desktop.session.settings import MAX_WINDOW, Settings, load_settings, window_size

HEADLESS = ["--window", "headless", "--backend", "egl"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Settings and the log under tmp_path."""
    monkeypatch.setenv("LLMVIZ_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("LLMVIZ_STATE_DIR", str(tmp_path / "state"))
    errors.logger.cache_clear()
    yield tmp_path
    errors.logger.cache_clear()


def open_window(**attrs):
    """The app's WindowConfig in a headless moderngl-window window, as run() would make it."""
    from llmviz_desktop.app.window import LlmvizWindow

    cls = type("TestWindow", (LlmvizWindow,), attrs)
    return mglw.create_window_config_instance(cls, args=HEADLESS)


def frames(win, n: int = 2, t0: float = 0.0) -> None:
    for i in range(n):
        win.on_render(t0 + i / 60, 1 / 60)


def log_text(home: Path) -> str:
    path = home / "state" / "llmviz.log"
    return path.read_text() if path.exists() else ""


def bad_later_folder(tmp_path: Path) -> Path:
    """A checkpoint folder whose config and weights resolve, but which fails when the app
    traces it (a GPT-2 style config without a tokenizer to read the input)."""
    folder = tmp_path / "fails-at-trace"
    shutil.copytree(shipped_model_dir("nano-sort"), folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("vocab"), config.pop("task")
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# ---- item 2: the superposition button and per-frame failures -----------------------------------


@pytest.mark.gl
def test_opening_the_superposition_panel_keeps_the_window(home):
    """What the 'superposition' button does; the next frame's pacing used to raise
    AttributeError: 'SuperpositionDemo' object has no attribute 'running'."""
    from llmviz_desktop.demos.superposition import SuperpositionDemo

    win = open_window()
    try:
        frames(win)
        win.state.controllers.superposition = SuperpositionDemo(n_dims=10, n_vectors=20)
        frames(win, 3, 1.0)
        assert win.state.messages.errors == [] and log_text(home) == ""
        demo = win.state.controllers.superposition
        demo.runner.start()
        assert win._animating()  # optimising: the window keeps its full frame rate
        demo.runner.pause()
        assert demo.runner.wait_fresh() is not None
        assert not win._animating()  # paused and drawn: idle again
        demo.visible = False  # closed: never animating
        demo.runner.start()
        assert not win._animating()
        demo.runner.pause()
    finally:
        win.on_close()


@pytest.mark.gl
@pytest.mark.parametrize(
    "stage",
    ["pacing", "hover", "flight", "player", "actions", "settings", "ui", "frame renderer"],
)
def test_a_per_frame_failure_outside_the_panels_is_shown_logged_and_survived(
    home, monkeypatch, stage
):
    """Each stage of the window's frame that is not a panel: an exception is one line in the
    error panel and a traceback in llmviz.log (once, not every frame); the window goes on
    drawing, and works again when the cause is gone."""
    from llmviz_desktop.app import window as app_module
    from llmviz_desktop.ui import panels

    win = open_window()
    try:
        frames(win)

        def boom(*args, **kwargs):
            raise RuntimeError(f"boom in {stage}")

        target = {
            "pacing": (win.pacer, "wait"),
            "hover": (win.ticker.hover, "update"),
            "flight": (app_module, "fly"),
            "player": (win.state.controllers.player, "advance"),
            "actions": (win, "_walk_actions"),
            "settings": (win, "_save_if_changed"),
            "ui": (panels, "follow_window_resize"),
            "frame renderer": (win.frame, "render"),
        }[stage]
        monkeypatch.setattr(*target, boom)
        if stage == "flight":
            win.fly_to(win.state.view.camera)
        for i in range(4):
            win.on_render(5.0 + i * 3.0, 1 / 60)  # 3 s apart: the settings are due each time
        assert len(win.state.messages.errors) == 1, win.state.messages.errors
        assert f"boom in {stage}" in win.state.messages.errors[0]
        assert "\n" not in win.state.messages.errors[0]
        log = log_text(home)
        assert log.count("Traceback") == 1 and f"RuntimeError: boom in {stage}" in log
        monkeypatch.undo()
        win.state.messages.errors.clear()
        frames(win, 2, 20.0)
        assert win.state.messages.errors == []
    finally:
        win.on_close()


@pytest.mark.gl
def test_an_input_handler_that_raises_is_contained(home, monkeypatch):
    """A glfw callback that raises would end the main loop: clicks, drags and keys that fail
    are shown and logged like a panel's failure."""
    from llmviz_desktop.app import window as app_module

    win = open_window()
    try:
        frames(win)

        def boom(*args, **kwargs):
            raise ValueError("boom in picking")

        monkeypatch.setattr(app_module, "pick_box", boom)
        win.on_mouse_position_event(600, 400, 0, 0)
        win.on_mouse_press_event(600, 400, 1)  # picks the grabbed point's depth
        assert any("boom in picking" in e for e in win.state.messages.errors)
        win.on_mouse_release_event(600, 400, 1)
        frames(win, 2, 1.0)
    finally:
        win.on_close()


# ---- item 1: Esc never quits; Ctrl+Q does ------------------------------------------------------


@pytest.mark.gl
def test_escape_is_not_the_exit_key_and_ctrl_q_quits(home, monkeypatch):
    """With glfw's key codes (the headless window has none): Esc stops a camera flight and
    unpins, and the window stays; Ctrl+Q closes it (and saves the settings)."""
    from moderngl_window.context.glfw.keys import Keys
    from moderngl_window.context.headless.window import Window

    monkeypatch.setattr(Window, "keys", Keys)
    win = open_window()
    try:
        frames(win)
        keys = win.wnd.keys
        assert win.wnd.exit_key is None
        win.fly_to(win.state.view.camera.zoomed(0.5, win.state.view.camera.target))
        win.on_key_event(keys.ESCAPE, keys.ACTION_PRESS, win.wnd.modifiers)
        assert win._flight is None  # Esc stops a camera flight
        frames(win, 2, 1.0)
        assert not win.wnd.is_closing
        win.wnd.modifiers.ctrl = True
        win.on_key_event(keys.Q, keys.ACTION_PRESS, win.wnd.modifiers)
        assert win.wnd.is_closing
        assert (home / "config" / "settings.json").exists()  # on_close ran
    finally:
        if not win.wnd.is_closing:
            win.on_close()


# ---- item 6: start-up ------------------------------------------------------------------------


@pytest.mark.gl
def test_a_bad_model_folder_opens_nano_sort_with_the_reason(home, tmp_path, capsys):
    """`llmviz --model DIR` with a folder that does not load: the window opens on nano-sort,
    the model panel says why, and one warning line goes to stderr (no traceback)."""
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json")
    for folder in (bad, bad_later_folder(tmp_path)):
        win = open_window(model_spec=str(folder))
        try:
            frames(win)
            assert win.state.home.name == "nano-sort"
            assert (
                str(folder) in win.state.messages.status
                and "showing nano-sort" in win.state.messages.status
            )
            assert win.state.messages.errors == []
        finally:
            win.on_close()
        err = capsys.readouterr().err
        assert err.count("llmviz: warning: could not load") == 1 and "Traceback" not in err


def run_app_headless(monkeypatch, model_spec=None) -> tuple[int, list]:
    """app.run() as `llmviz` calls it, with the main loop replaced by two frames."""
    from llmviz_desktop.app import window as app_module

    opened = []

    def two_frames(cls, args=None):
        assert args == ["--window", "glfw"]
        win = mglw.create_window_config_instance(cls, args=HEADLESS)
        opened.append(win)
        frames(win)
        win.on_close()

    monkeypatch.setattr(app_module.mglw, "run_window_config", two_frames)
    return app_module.run(model_spec, "glfw"), opened


@pytest.mark.gl
@pytest.mark.parametrize("kind", ["fails at trace", "missing", "a file", "empty string"])
def test_a_bad_last_model_in_the_settings_never_stops_the_start(home, monkeypatch, capsys, kind):
    later = bad_later_folder(home)
    model = {
        "fails at trace": str(later),
        "missing": str(home / "gone"),
        "a file": str(later / "config.json"),
        "empty string": "",
    }[kind]
    (home / "config").mkdir()
    (home / "config" / "settings.json").write_text(json.dumps({"model": model}))
    code, opened = run_app_headless(monkeypatch)
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    (win,) = opened
    assert win.state.home.name == "nano-sort"
    assert (
        "last model" in win.state.messages.status
        and "showing nano-sort" in win.state.messages.status
    )
    assert len([line for line in err.splitlines() if line.startswith("llmviz:")]) == 1
    # the next start opens nano-sort quietly: the settings now remember it
    assert json.loads((home / "config" / "settings.json").read_text())["model"] == "nano-sort"


@pytest.mark.gl
def test_a_non_string_last_model_is_a_warning_not_a_crash(home, monkeypatch, capsys):
    (home / "config").mkdir()
    (home / "config" / "settings.json").write_text(json.dumps({"model": ["gpt2"]}))
    code, (win,) = run_app_headless(monkeypatch)
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err and "unreadable settings" in err
    assert win.state.home.name == "nano-sort"


def test_saved_window_sizes_are_clamped_to_the_screen():
    huge = Settings(window_width=65535, window_height=65535)
    assert window_size(huge, (1920, 1050)) == (1920, 1050)
    assert window_size(huge, None) == (MAX_WINDOW, MAX_WINDOW)
    assert window_size(huge, (100_000, 100_000)) == (MAX_WINDOW, MAX_WINDOW)
    assert window_size(Settings(window_width=10, window_height=5), (1920, 1050)) == (480, 320)
    assert window_size(Settings(window_width=10, window_height=5), (400, 300)) == (400, 300)
    assert window_size(Settings(), (1920, 1050)) == (1280, 800)


def test_run_opens_the_window_at_most_the_screen_size(home, monkeypatch):
    """65535 x 65535 in settings.json: the window run() asks for is clamped (glfw segfaults
    on it otherwise)."""
    from llmviz_desktop.app import window as app_module

    (home / "config").mkdir()
    (home / "config" / "settings.json").write_text(
        json.dumps({"window_width": 65535, "window_height": 65535})
    )
    monkeypatch.setattr(app_module, "screen_area", lambda window: (1600, 900))
    asked = []

    def capture(cls, args=None):
        asked.append(cls.window_size)

    monkeypatch.setattr(app_module.mglw, "run_window_config", capture)
    assert app_module.run(None, "glfw") == 0
    assert asked == [(1600, 900)]


@pytest.mark.gl
def test_the_window_starts_without_moderngl_window_info_lines(home):
    """moderngl-window logs the GL context at INFO ('moderngl_window - INFO - Context
    Version') on stderr; the app prints none of it."""
    script = textwrap.dedent(
        f"""
        import moderngl_window as mglw
        from llmviz_desktop.app import window as app
        def two_frames(cls, args=None):
            win = mglw.create_window_config_instance(cls, args={HEADLESS!r})
            win.on_render(0.0, 1 / 60)
            win.on_close()
        mglw.run_window_config = two_frames
        raise SystemExit(app.run(None, "glfw"))
        """
    )
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "INFO" not in out.stderr + out.stdout, out.stderr
    assert "Context Version" not in out.stderr + out.stdout


@pytest.mark.gl
def test_a_too_long_input_names_the_context_not_the_text(home):
    """5,000 letters pasted into the input field: one short line under the field naming the
    model's context size; the text is not echoed whole."""
    from llmviz_desktop.ui.walkthrough_panel import WalkActions

    win = open_window()
    try:
        frames(win)
        win._walk_actions(WalkActions(new_input="ABC" * 2000))
        error = win.state.messages.input_error
        assert "nano-sort's context is 11 tokens" in error, error
        assert len(error) < 200 and "\n" not in error
        assert win.state.home.input_text == "CBABBC"  # the model keeps its input
        win._walk_actions(WalkActions(new_input="ABCABC"))
        assert win.state.messages.input_error == "" and win.state.home.input_text == "ABCABC"
    finally:
        win.on_close()


# ---- item 6: settings and chapter files that are not plain small files -------------------------


def in_subprocess(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter with a timeout: a read that blocks fails the test
    instead of hanging it."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"blocked for {timeout} s")


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_settings_that_are_not_a_regular_file_are_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "settings.json"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a plain open() blocks forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # endless: a plain read() takes all memory
    else:
        path.mkdir()
    out = in_subprocess(
        f"""
        from pathlib import Path
        from llmviz_desktop.session.settings import load_settings
        settings, warning = load_settings(Path({str(path)!r}))
        print(warning)
        """
    )
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    said = "is a directory" if kind == "folder" else "not a regular file"
    assert "settings.json" in line and said in line and "settings ignored" in line, line
    assert os.path.lexists(path)  # left where it is (not moved aside, not replaced)


def test_oversized_settings_are_refused_reading_at_most_the_limit(tmp_path, monkeypatch):
    from llmviz_desktop.session import settings as settings_module

    path = tmp_path / "settings.json"
    path.write_bytes(b" " * (2 << 20) + b"{}")
    reads = []
    real_read = os.read
    monkeypatch.setattr(
        settings_module.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n)
    )
    settings, warning = load_settings(path)
    assert settings == Settings() and warning is not None and "too large" in warning
    assert sum(reads) <= settings_module.MAX_BYTES + 1


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_chapter_files_that_are_not_small_regular_files_are_skipped_with_one_line(tmp_path, kind):
    from llmviz_desktop.resources import walkthrough_dir

    folder = tmp_path / "chapters"
    shutil.copytree(walkthrough_dir(), folder)
    bad = folder / "zz-bad.toml"
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "device":
        bad.symlink_to("/dev/zero")
    else:
        with open(bad, "wb") as f:  # sparse: 2 GiB that a whole read would allocate
            f.truncate(2 << 30)
    out = in_subprocess(
        f"""
        from pathlib import Path
        from llmviz_desktop.walkthrough.chapters import load_chapters
        found = load_chapters(Path({str(folder)!r}))
        print(len(found.chapters))
        for e in found.errors:
            print(e)
        """
    )
    assert out.returncode == 0, out.stderr
    count, *problems = out.stdout.splitlines()
    assert int(count) == len(list(walkthrough_dir().glob("*.toml")))
    assert len(problems) == 1 and problems[0].startswith("zz-bad.toml: "), problems
    word = "too large" if kind == "huge" else "not a regular file"
    assert word in problems[0]
