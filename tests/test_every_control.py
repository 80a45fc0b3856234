"""Every control in every panel, pressed in the real window (Xvfb + xdotool), through the
window's own code path (issue 12, item 2): the app stays alive and nothing is logged.

The app runs with LLMVIZ_UI_MAP set, so each frame it writes where its panels and controls
are (ui/uimap.py); the test opens every collapsed panel, then clicks each visible, enabled
button and toggle once (labels that appear after a click, such as Pause after Play or the
superposition panel's controls, are clicked too), opens each combo and closes it with Esc, and
types into each text field and leaves it with Esc. Nothing is excluded: no control in the
panels ends the session (the window's close button and Ctrl+Q are the only ways out).
"""

from __future__ import annotations

import pytest
from xwindow import app_env, frame_now, read_map, running_app, xdo, xvfb

pytestmark = [pytest.mark.window, pytest.mark.slow]

WIDTH, HEIGHT = 1280, 800
MAX_ACTIONS = 150  # far more than the panels have controls: a loop of new labels would stop here


def in_front(windows: list[dict], name: str, x: float, y: float) -> bool:
    """Is (x, y) on window `name` and not covered by a window drawn after it?"""
    names = [w["name"] for w in windows]
    if name not in names:
        return False
    for w in windows[names.index(name) + 1 :]:
        x0, y0, x1, y1 = w["rect"]
        if x0 <= x <= x1 and y0 <= y <= y1:
            return False
    return True


def test_every_button_and_toggle_of_every_panel_keeps_the_app_alive(tmp_path):
    home = tmp_path / "home"
    ui_map = tmp_path / "ui.json"
    log = home / "state" / "llmviz.log"
    with xvfb(WIDTH, HEIGHT) as display:
        env = app_env(display, home)
        env["LLMVIZ_UI_MAP"] = str(ui_map)
        with running_app(env) as (proc, window):
            xdo(env, "windowmove", window, "0", "0")
            xdo(env, "windowsize", window, str(WIDTH), str(HEIGHT))
            data = read_map(ui_map, 0)
            done: set[tuple[str, str, str]] = set()
            expanded: set[str] = set()
            closed: set[str] = set()
            seen: set[str] = set()  # every panel that was on screen at some point
            walking = False

            def click(x: float, y: float) -> None:
                # hover in a frame of its own, then press (as tests/test_window_controls.py)
                xdo(env, "mousemove", str(int(x)), str(int(y)))
                read_map(ui_map, frame_now(env), frames=1)
                xdo(env, "click", "1")

            for _ in range(MAX_ACTIONS):
                assert proc.poll() is None, f"the app exited ({proc.returncode})"
                windows = data["windows"]
                seen |= {w["name"] for w in windows}
                todo = [w for w in windows if w["collapsed"] and w["name"] not in expanded]
                if todo:  # open every panel first; each stays open
                    w = todo[0]
                    expanded.add(w["name"])
                    click(*w["collapse_at"])
                else:
                    items = [
                        it
                        for it in data["items"]
                        if it["visible"]
                        and not it["disabled"]
                        and it["kind"] != "slider"  # dragged, not pressed: sliders are tested
                        and (it["window"], it["kind"], it["label"]) not in done
                        and in_front(
                            windows,
                            it["window"],
                            (it["rect"][0] + it["rect"][2]) / 2,
                            (it["rect"][1] + it["rect"][3]) / 2,
                        )
                    ]
                    closable = [w for w in windows if w["close_at"] is not None]
                    if not items and closable:  # a panel in front (superposition) hides
                        closed.add(closable[-1]["name"])  # others: its close button shuts it
                        click(*closable[-1]["close_at"])
                        data = read_map(ui_map, data["frame"])
                        continue
                    if not items and not walking:  # → starts the walkthrough: its step
                        walking = True  # controls (play, pause, previous, next) appear
                        for attempt in range(40):
                            if attempt % 8 == 0:  # a field may still hold the keys: click away
                                xdo(env, "mousemove", "600", "795", "click", "1", "key", "Right")
                            data = read_map(ui_map, data["frame"])
                            if any(i["label"] == ">" and i["visible"] for i in data["items"]):
                                break  # the panel has grown to show its new controls
                        continue
                    if not items:
                        left = [
                            (it["window"], it["label"], it["visible"], it["disabled"])
                            for it in data["items"]
                            if it["kind"] != "slider"
                            and (it["window"], it["kind"], it["label"]) not in done
                        ]
                        assert not left, (left, [(w["name"], w["rect"]) for w in windows])
                        break
                    it = items[0]
                    done.add((it["window"], it["kind"], it["label"]))
                    x0, y0, x1, y1 = it["rect"]
                    click((x0 + x1) / 2, (y0 + y1) / 2)
                    if it["kind"] == "combo":  # its list opens: Esc closes it
                        read_map(ui_map, data["frame"])
                        xdo(env, "key", "Escape")
                    elif it["kind"] == "input":  # typing, then Esc leaves the field
                        xdo(env, "type", "--delay", "20", "AB")
                        xdo(env, "key", "Escape")
                data = read_map(ui_map, data["frame"])
            else:
                pytest.fail(f"more than {MAX_ACTIONS} controls: {sorted(done)}")

            # anything a click started (training, superposition) runs a while: 30 frames
            data = read_map(ui_map, data["frame"], frames=30)
            assert proc.poll() is None, f"the app exited ({proc.returncode})"
            names = {w["name"] for w in data["windows"]}
            logged = log.read_text() if log.exists() else ""
            assert logged == "", logged
            assert "Something went wrong" not in names

    pressed = {label for _, kind, label in done if kind in ("button", "toggle")}
    # the panels' controls a user meets first, all pressed (and the ones they open)
    for label in ("Open", "reset view", "help (H)", "superposition", "Random", "labels", "Play"):
        assert label in pressed, sorted(pressed)
    assert {"Analysis", "Watch it learn"} <= expanded
    assert any(w == "Superposition" for w, _, _ in done) and "Superposition" in closed
    assert {w for w, _, _ in done} >= {"llmviz", "Walkthrough", "Watch it learn", "Analysis"}
    tabs = {label for w, kind, label in done if w == "Analysis" and kind == "tab"}
    assert tabs >= {"Attention", "Logit lens", "Parameters"}, sorted(tabs)
    assert "Controls" in seen  # the help overlay ("help (H)"); the error panel and the keys:
    # test_window_controls.py and test_window.py
    assert len(done) >= 40, sorted(done)  # 46 controls today: buttons, toggles, tabs, plots...
