"""The real desktop window under Xvfb, driven with real mouse input from xdotool.

Needs Xvfb, xdotool and ImageMagick's `import` (.ci/run installs them); without them these
tests fail rather than skip (xwindow.require).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from cli_run import llmviz
from PIL import Image
from xwindow import app_env, drawn, grab, running_app, screenshot, wait_until, xdo, xvfb

pytestmark = pytest.mark.window

WIDTH, HEIGHT = 1280, 800
PANEL_RIGHT = 360  # the model panel covers x < ~345 at the default font size
WALK_LEFT = WIDTH - 460  # the walkthrough panel covers the right 450 px


@pytest.fixture(scope="module")
def display():
    with xvfb(WIDTH, HEIGHT) as name:
        yield name


@contextmanager
def app_in(display, home):
    env = app_env(display, home)
    with running_app(env) as (_, window):
        xdo(env, "windowmove", window, "0", "0")
        xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
        drawn(env)
        yield env, window


@pytest.fixture(scope="module")
def app(display, tmp_path_factory):
    """One app for the tests that leave it as they found it (each starts with reset())."""
    with app_in(display, tmp_path_factory.mktemp("app-home")) as app:
        yield app


@pytest.fixture
def fresh_app(display, tmp_path):
    """An app of its own, for a test that changes what reset() does not restore (the
    walkthrough, once started, stays started): the others then pass in any order."""
    with app_in(display, tmp_path / "home") as app:
        yield app


def scene_mask(img: np.ndarray) -> np.ndarray:
    """Coloured scene pixels (cells, outlines, brackets) right of the panel."""
    mx, mn = img.max(axis=-1), img.min(axis=-1)
    mask = (mx > 60) & (mx - mn > 40)
    mask[:, :PANEL_RIGHT] = False
    mask[:, WALK_LEFT:] = False
    return mask


def extent(img: np.ndarray) -> tuple[float, float, float, float]:
    """Centre x, centre y, width, height of the scene's coloured pixels."""
    ys, xs = np.nonzero(scene_mask(img))
    assert xs.size > 500, "the scene is not visible"
    return (
        xs.mean(),
        ys.mean(),
        np.percentile(xs, 99) - np.percentile(xs, 1),
        np.percentile(ys, 99) - np.percentile(ys, 1),
    )


def drag(env, button: int, start, end, steps: int = 12) -> None:
    xdo(env, "mousemove", str(start[0]), str(start[1]))
    drawn(env, 2)  # the app has seen the cursor where the drag starts
    xdo(env, "mousedown", str(button))
    for i in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * i / steps
        y = start[1] + (end[1] - start[1]) * i / steps
        xdo(env, "mousemove", str(int(x)), str(int(y)))
        drawn(env, 1)
    drawn(env, 2)
    xdo(env, "mouseup", str(button))


FREE_CENTRE = (591, 417)  # the middle of the free area between the panels (1280 x 800)


def reset(env, zoom_out: int = 20) -> None:
    """The opening view (Home), then `zoom_out` scroll notches back from the free area's
    centre: the opening view fills the free area, and a smaller model can be seen to move
    without running into the panels."""
    xdo(env, "mousemove", "600", "790")
    xdo(env, "key", "Home")
    drawn(env, 45)  # Home flies for 0.6 s
    if zoom_out:
        xdo(env, "mousemove", *(str(v) for v in FREE_CENTRE))
        for _ in range(zoom_out):
            xdo(env, "click", "5")
        drawn(env, 3)
        xdo(env, "mousemove", "600", "790")


def test_window_shows_the_model_and_panel(app):
    env, _ = app
    reset(env, zoom_out=0)
    img = screenshot(env)
    assert img.shape == (HEIGHT, WIDTH, 3)
    cx, cy, w, h = extent(img)
    assert h > HEIGHT * 0.6  # the opening view fills the free area, top to bottom
    panel = img[20:250, 20:330]
    assert (panel.max(axis=-1) > 150).mean() > 0.02  # panel text is drawn


def test_left_drag_pans_with_the_cursor(app):
    env, _ = app
    reset(env)
    before = extent(screenshot(env))
    drag(env, 1, (500, 300), (600, 360))
    after = extent(screenshot(env))
    assert after[0] - before[0] == pytest.approx(100, abs=12)
    assert after[1] - before[1] == pytest.approx(60, abs=12)
    assert after[3] == pytest.approx(before[3], rel=0.05)  # panning does not zoom


def test_right_drag_orbits(app):
    env, _ = app
    reset(env)
    before_img = screenshot(env)
    before = extent(before_img)
    drag(env, 3, (450, 400), (700, 400))  # ~75 degrees of yaw
    after_img = screenshot(env)
    after = extent(after_img)
    changed = (np.abs(after_img - before_img).sum(axis=-1) > 60).mean()
    assert changed > 0.01
    assert after[3] == pytest.approx(before[3], rel=0.15)  # same distance: height kept
    assert abs(after[2] - before[2]) > 0.1 * before[2]  # it turns: its width on screen changes


def test_scroll_zooms_toward_the_cursor(app):
    env, _ = app
    reset(env, zoom_out=0)
    home = extent(screenshot(env))  # the opening view
    reset(env)
    before = extent(screenshot(env))
    xdo(env, "mousemove", str(int(before[0])), "200")
    for _ in range(4):
        xdo(env, "click", "4")  # wheel up: zoom in
        drawn(env, 1)
    after = extent(screenshot(env))
    assert after[3] > before[3] * 1.5 or after[2] > before[2] * 1.5
    xdo(env, "key", "Home")
    back = extent(screenshot(env))
    assert back[3] == pytest.approx(home[3], rel=0.05)  # Home: the opening view again


def test_help_overlay_toggles(app):
    env, _ = app
    reset(env)
    base = screenshot(env)
    xdo(env, "key", "h")
    shown = screenshot(env)
    centre = (slice(HEIGHT // 2 - 60, HEIGHT // 2 + 60), slice(WIDTH // 2 - 150, WIDTH // 2 + 150))
    assert np.abs(shown[centre] - base[centre]).sum(axis=-1).mean() > 10
    xdo(env, "key", "h")
    hidden = screenshot(env)
    assert np.abs(hidden[centre] - base[centre]).sum(axis=-1).mean() < 3


def test_f_flies_to_the_tensor_under_the_cursor(app):
    env, _ = app
    reset(env)
    img = screenshot(env)
    ys, xs = np.nonzero(scene_mask(img))
    # the widest block of coloured pixels near the top: layer 1's attention heads
    row = int(np.percentile(ys, 8))
    on_row = xs[np.abs(ys - row) < 3]
    x = int(np.median(on_row))
    xdo(env, "mousemove", str(x), str(row))
    xdo(env, "key", "f")
    after = extent(screenshot(env))
    before = extent(img)
    assert after[2] > before[2] * 3  # the tensor now fills much of the view


@pytest.mark.gl
def test_hovering_a_cell_shows_the_same_tooltip_as_headless_render(app, tmp_path):
    """Real mouse over a known tensor: the tooltip appears beside the cursor, and it is the
    tooltip `llmviz render --hover` draws for the same view and pixel."""
    import json

    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session.loaded import load_model

    env, _ = app
    reset(env, zoom_out=0)
    model = load_model("nano-sort")
    cam = camera_preset("overview", model.scene, WIDTH, HEIGHT)
    box = model.scene.by_name["h.0.attn.head0.v_weight"]  # the front head, in the opening view
    centre = np.array(box.center)
    centre[2] = box.max_corner[2]  # on its front face
    x, y, _ = cam.project(centre, WIDTH, HEIGHT)[0]
    x, y = int(round(x)), int(round(y))
    xdo(env, "mousemove", "1200", "790")  # away, then onto the cell
    base = screenshot(env)
    xdo(env, "mousemove", str(x), str(y))
    shown = screenshot(env)
    # the tooltip sits right-below the cursor, flipping sides past the middle of the window
    rows = slice(y + 20, y + 110) if y < HEIGHT * 0.5 else slice(y - 110, y - 20)
    cols = slice(x + 20, x + 300) if x < WIDTH * 0.55 else slice(x - 300, x - 20)
    region = (rows, cols)
    changed = np.abs(shown[region] - base[region]).sum(axis=-1) > 30
    assert changed.mean() > 0.1, "no tooltip beside the cursor"  # dark panel, bright text

    out, report = tmp_path / "hover.png", tmp_path / "hover.json"
    result = llmviz(
        "render",
        "--out",
        str(out),
        "--size",
        f"{WIDTH}x{HEIGHT}",
        "--hover",
        f"{x},{y}",
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    hover = json.loads(report.read_text())["hover"]
    assert hover["tensor"] == "h.0.attn.head0.v_weight"
    headless = np.asarray(Image.open(out).convert("RGB")).astype(int)
    diff = np.abs(headless[region] - shown[region]).max(axis=-1)
    assert (diff > 40).mean() < 0.02, "the window's tooltip differs from the headless one"


@pytest.mark.slow
def test_walkthrough_keys_step_and_play(fresh_app):
    """Right arrow starts the walkthrough and steps it; Space plays: the panel text and the
    scene change each time."""
    env, _ = fresh_app
    xdo(env, "mousemove", "640", "790")  # over empty space, not a panel
    panel = (slice(60, 240), slice(WIDTH - 430, WIDTH - 20))  # the step title and text
    before = screenshot(env)
    xdo(env, "key", "Right")
    first = screenshot(env)
    assert np.abs(first[panel] - before[panel]).sum(axis=-1).mean() > 5, "no step shown"
    xdo(env, "key", "Right")
    second = screenshot(env)
    assert np.abs(second[panel] - first[panel]).sum(axis=-1).mean() > 5, "Right did not step"
    xdo(env, "key", "Left")
    back = screenshot(env)
    assert np.abs(back[panel] - first[panel]).sum(axis=-1).mean() < 3, "Left did not go back"
    # the timeline slider (its time text) moves while playing, and stays put once paused
    whole_panel = (slice(40, HEIGHT - 40), slice(WIDTH - 450, WIDTH - 10))

    def moved(img) -> int:
        return int((np.abs(img[whole_panel] - back[whole_panel]).max(axis=-1) > 40).sum())

    xdo(env, "key", "space")  # play
    wait_until(lambda: moved(grab(env)) > 20, timeout=15, what="Space to play the walkthrough")
    xdo(env, "key", "space")  # pause
    paused = screenshot(env)  # the pause seen, the picture settled
    drawn(env, 10)
    still = grab(env)
    assert (np.abs(still[whole_panel] - paused[whole_panel]).max(axis=-1) > 40).sum() == 0
