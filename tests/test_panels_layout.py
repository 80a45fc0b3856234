"""Panels and tooltips behave (issue 14, item 5): with every panel open at 1280x720 in the real
window, no two panels overlap and every control lies inside its own panel and in no other
(ui/dock.py); the cell tooltip is opaque and drawn after every panel, even a focused one; the
column sharing gives the upper panel its height first."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from imgui_bundle import imgui
from xwindow import app_env, drawn, running_app, screenshot, wait_until, xdo, xvfb

from llmviz_desktop.ui.dock import share

WIDTH, HEIGHT = 1280, 720
SAVE_SHOTS = Path(os.environ["LLMVIZ_TEST_SHOTS"]) if os.environ.get("LLMVIZ_TEST_SHOTS") else None
PANELS = ("llmviz", "Walkthrough", "Watch it learn", "Analysis", "Superposition")


def overlap(a, b, slack: float = 0.5) -> bool:
    return (
        a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack
    )


def test_share_keeps_the_upper_panel_and_floors_the_lower():
    assert share(500, [200, 250], [12, 12]) == [200, 250]  # both fit
    assert share(500, [300, 600], [100, 100]) == [300, 200]  # the lower one scrolls
    assert share(500, [900, 600], [100, 100]) == [400, 100]  # never under its floor
    assert share(500, [100, 20], [100, 20]) == [100, 20]


@pytest.mark.gl
def test_cell_tooltip_is_opaque_and_drawn_after_a_focused_panel():
    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.scene.picking import pick_cell
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState

    w, h = 1280, 720
    model = load_model("nano-sort")
    session = HeadlessSession(w, h)
    try:
        state = AppState.create(model, camera_preset("overview", model.scene, w, h), w, h)
        session.render(state)
        # a pixel over a cell
        cam = state.view.camera
        spot = next(
            (x, y)
            for y in range(40, h - 40, 6)
            for x in range(360, 820, 6)
            if pick_cell(model.scene, cam, x, y, w, h) is not None
        )
        state.pointer.mouse = (float(spot[0]), float(spot[1]))
        imgui.set_window_focus("Walkthrough")  # the walkthrough panel took focus
        session.render(state)
        lists = [dl._owner_name for dl in imgui.get_draw_data().cmd_lists]
        assert "##cell-tooltip" in lists, lists
        tip = lists.index("##cell-tooltip")
        for name in ("Walkthrough", "llmviz", "Analysis"):
            assert lists.index(name) < tip, (name, lists)
        window = imgui.internal.find_window_by_name("##cell-tooltip")
        assert window is not None
        bg = imgui.get_style().color_(imgui.Col_.popup_bg)
        assert bg.w >= 0.9  # the style's own alpha; set_next_window_bg_alpha(1) makes it 1
    finally:
        session.release()


@pytest.mark.window
def test_every_panel_open_at_1280x720_overlaps_no_other(tmp_path):
    with xvfb(WIDTH, HEIGHT) as display:
        env = app_env(display, tmp_path)
        with running_app(env) as (_proc, window):
            xdo(env, "windowmove", window, "0", "0")
            xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
            data = drawn(env)

            def click(x, y):
                # hover in a frame of its own, then press (as tests/test_window_controls.py)
                xdo(env, "mousemove", str(int(x)), str(int(y)))
                drawn(env, 1)
                xdo(env, "click", "1")
                return drawn(env)

            def panel(data, name):
                return next((w for w in data["windows"] if w["name"] == name), None)

            # the superposition demo; the walkthrough's first chapter (Right arrow)
            (button,) = [i for i in data["items"] if i["label"] == "superposition"]
            x0, y0, x1, y1 = button["rect"]
            data = click((x0 + x1) / 2, (y0 + y1) / 2)
            xdo(env, "mousemove", "640", "700", "key", "Right")
            data = drawn(env)
            for name in ("Watch it learn", "Analysis", "Superposition"):
                w = wait_until(lambda n=name: panel(drawn(env), n), what=name)
                if w["collapsed"]:
                    data = click(*w["collapse_at"])
            data = wait_until(
                lambda: (
                    (d := drawn(env))
                    and all(panel(d, n) and not panel(d, n)["collapsed"] for n in PANELS)
                    and d
                ),
                what="every panel open",
            )
            # training: the curves make "Watch it learn" tall (it scrolls, under the model panel)
            (train,) = [i for i in data["items"] if i["label"] == "Train from scratch"]
            x0, y0, x1, y1 = train["rect"]
            click((x0 + x1) / 2, (y0 + y1) / 2)
            wait_until(
                lambda: any(i["label"] == "Pause" for i in drawn(env)["items"]), what="training"
            )
            xdo(env, "mousemove", "640", "700")
            data = drawn(env, 20)
            if SAVE_SHOTS:
                from PIL import Image

                SAVE_SHOTS.mkdir(parents=True, exist_ok=True)
                Image.fromarray(screenshot(env).astype(np.uint8)).save(
                    SAVE_SHOTS / "every_panel_1280x720.png"
                )
    rects = {n: panel(data, n)["rect"] for n in PANELS}
    for a in PANELS:
        r = rects[a]
        assert r[0] >= 0 and r[1] >= 0 and r[2] <= WIDTH and r[3] <= HEIGHT, (a, r)
        for b in PANELS:
            if a < b:
                assert not overlap(rects[a], rects[b]), (a, rects[a], b, rects[b])
    checked = 0
    for item in data["items"]:
        own = item["window"].split("/")[0]
        if own not in rects or not item["visible"]:
            continue
        x0, y0, x1, y1 = item["rect"]
        r = rects[own]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        assert r[0] <= cx <= r[2] and r[1] <= cy <= r[3], (item, own, r)
        clipped = (max(x0, r[0]), max(y0, r[1]), min(x1, r[2]), min(y1, r[3]))
        for other, o in rects.items():
            if other != own:
                assert not overlap(clipped, o), (item["label"], own, other, o)
        checked += 1
    assert checked > 30
