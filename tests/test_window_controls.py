"""The real window (Xvfb + xdotool) closes only when the user closes it: Esc never quits (not
over the scene, not with a pinned tooltip, not while typing in the input field); Ctrl+Q does.
And it starts whatever the settings or --model say: a saved 65535 x 65535 window opens at the
screen's size, a bad model folder opens nano-sort with the reason shown, with no traceback and
no moderngl-window INFO lines."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from xwindow import app_env, drawn, read_map, running_app, screenshot, xdo, xvfb

pytestmark = pytest.mark.window

WIDTH, HEIGHT = 1280, 800
# LLMVIZ_TEST_SHOTS=<folder>: keep the screenshots, to look at them
SAVE_SHOTS = Path(os.environ["LLMVIZ_TEST_SHOTS"]) if os.environ.get("LLMVIZ_TEST_SHOTS") else None


@pytest.fixture(scope="module")
def display():
    with xvfb(WIDTH, HEIGHT) as name:
        yield name


def exited(proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_escape_never_quits_and_ctrl_q_does(display, tmp_path):
    env = app_env(display, tmp_path)
    ui_map = tmp_path / "ui.json"
    env["LLMVIZ_UI_MAP"] = str(ui_map)
    with running_app(env) as (proc, window):
        xdo(env, "windowmove", window, "0", "0")
        xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
        data = read_map(ui_map, 0)
        # over the scene; then on a cell (a click pins its tooltip) and Esc unpins
        xdo(env, "mousemove", "640", "400", "key", "Escape")
        xdo(env, "click", "1", "key", "Escape", "key", "Escape")
        data = read_map(ui_map, data["frame"])
        assert proc.poll() is None, "Esc over the scene closed the window"
        # in the walkthrough's input field, typing: Esc leaves the field
        (field,) = [i for i in data["items"] if i["label"] == "##input"]
        x0, y0, x1, y1 = field["rect"]
        xdo(env, "mousemove", str(int((x0 + x1) / 2)), str(int((y0 + y1) / 2)), "click", "1")
        xdo(env, "type", "--delay", "20", "AB")
        xdo(env, "key", "Escape")
        data = read_map(ui_map, data["frame"])
        assert not exited(proc, 1.0), "Esc in the input field closed the window"
        xdo(env, "key", "Escape")  # and again, the field left
        data = read_map(ui_map, data["frame"])
        assert proc.poll() is None
        log = tmp_path / "state" / "llmviz.log"
        assert not log.exists() or log.read_text() == ""
        xdo(env, "mousemove", "640", "790", "key", "ctrl+q")
        assert exited(proc, 20.0), "Ctrl+Q did not close the window"
        assert proc.returncode == 0
        out = proc.stdout.read()
        assert "Traceback" not in out and "INFO" not in out, out
    assert (tmp_path / "config" / "settings.json").exists()  # saved on the way out


def window_geometry(env, window: str) -> tuple[int, int]:
    out = xdo(env, "getwindowgeometry", window)
    size = out.split("Geometry:")[1].split()[0]
    w, h = size.split("x")
    return int(w), int(h)


def test_a_huge_saved_window_opens_at_most_the_screen(display, tmp_path):
    """65535 x 65535 in settings.json crashed glfw (a segfault); now the window opens within
    the screen's work area and the app runs."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(
        json.dumps({"window_width": 65535, "window_height": 65535})
    )
    env = app_env(display, tmp_path)
    with running_app(env) as (proc, window):
        w, h = window_geometry(env, window)
        assert 0 < w <= WIDTH and 0 < h <= HEIGHT, (w, h)
        drawn(env, 20)  # it goes on drawing at that size
        assert proc.poll() is None


def test_a_bad_model_folder_is_one_line_or_nano_sort_with_the_reason(display, tmp_path):
    """A folder that is no checkpoint: `llmviz` refuses it in one line (exit 2, before any
    window). One whose weights load but that fails when traced (no tokenizer for its text):
    the window opens on nano-sort and the model panel says why. Never a traceback."""
    from cli_run import llmviz
    from test_app_start import bad_later_folder

    broken = tmp_path / "my-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    env = app_env(display, tmp_path)
    result = llmviz("--model", str(broken), env=env, timeout=60)
    assert result.returncode == 2 and result.stdout == "", result
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr

    later = bad_later_folder(tmp_path)
    with running_app(env, "--model", str(later)) as (proc, window):
        xdo(env, "windowmove", window, "0", "0")
        xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
        img = screenshot(env)
        assert proc.poll() is None
        # the model panel's status line: orange text (1.0, 0.75, 0.3) under its controls
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        orange = (r > 200) & (g > 130) & (g < 210) & (b < 110)
        assert orange[:, :360].sum() > 200, "no status line in the model panel"
        if SAVE_SHOTS:
            from PIL import Image

            Image.fromarray(img.astype("uint8")).save(SAVE_SHOTS / "bad-model.png")
    out = proc.stdout.read()
    lines = [line for line in out.splitlines() if line.startswith("llmviz:")]
    assert len(lines) == 1 and "could not load" in lines[0] and str(later) in lines[0], out
    assert "Traceback" not in out and "INFO" not in out, out


FAULT = """
import os
from pathlib import Path

from llmviz_desktop.ui import panels

_trigger = Path(os.environ["LLMVIZ_TEST_FAULT"])
_real = panels.follow_window_resize


def _once_on_request(*args, **kwargs):
    if _trigger.exists():  # the test asks for one failure: this frame's interface raises
        _trigger.unlink()
        raise RuntimeError("a fault the test asked for")
    return _real(*args, **kwargs)


panels.follow_window_resize = _once_on_request
"""


def test_a_failure_shows_the_error_panel_and_dismiss_closes_it(display, tmp_path):
    """The error panel through the real window: a per-frame failure (injected at start-up by a
    sitecustomize on PYTHONPATH, raised once when the test asks) is one line in the
    'Something went wrong' panel and a traceback in llmviz.log; its Dismiss button closes it,
    and the app goes on."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(FAULT)
    trigger = tmp_path / "fail-now"
    env = app_env(display, tmp_path)
    ui_map = Path(env["LLMVIZ_UI_MAP"])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
    env["LLMVIZ_TEST_FAULT"] = str(trigger)
    with running_app(env) as (proc, window):
        xdo(env, "windowmove", window, "0", "0")
        xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
        data = read_map(ui_map, 0)
        assert "Something went wrong" not in {w["name"] for w in data["windows"]}
        trigger.touch()
        xdo(env, "mousemove", "640", "790")  # input: full frame rate
        for _ in range(10):  # the panel shows a frame or two after the failing frame
            data = read_map(ui_map, data["frame"], frames=1)
            if "Something went wrong" in {w["name"] for w in data["windows"]}:
                break
        assert not trigger.exists(), "the injected fault never ran"
        assert "Something went wrong" in {w["name"] for w in data["windows"]}
        log = (tmp_path / "state" / "llmviz.log").read_text()
        assert log.count("Traceback") == 1 and "a fault the test asked for" in log, log
        (dismiss,) = [
            i for i in data["items"] if i["window"] == "Something went wrong" and i["visible"]
        ]
        assert dismiss["label"] == "Dismiss"
        x0, y0, x1, y1 = dismiss["rect"]
        # hover first, in a frame of its own, then click: a move and a press in the same
        # frame can reach imgui before it knows the button is under the cursor
        xdo(env, "mousemove", str(int((x0 + x1) / 2)), str(int((y0 + y1) / 2)))
        data = read_map(ui_map, data["frame"], frames=2)
        xdo(env, "click", "1")
        for _ in range(10):  # the panel closes within a frame or two of the click
            data = read_map(ui_map, data["frame"], frames=1)
            if "Something went wrong" not in {w["name"] for w in data["windows"]}:
                break
        assert "Something went wrong" not in {w["name"] for w in data["windows"]}
        assert proc.poll() is None
        assert (tmp_path / "state" / "llmviz.log").read_text() == log  # logged once
