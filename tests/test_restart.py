"""The model box and the scene agree, and a restart shows the picture that was on screen
(issue 15): the box names the model a walkthrough step shows (locked, with the user's own
named under it), the settings keep the user's model and the walkthrough's step *and* progress,
and a window opened from them shows the same moment."""

from __future__ import annotations

import json
import math

import moderngl_window as mglw
import pytest

from llmviz_desktop.session import errors
from llmviz_desktop.session.settings import Settings, load_settings, save_settings
from llmviz_desktop.ui.panels import model_box

HEADLESS = ["--window", "headless", "--backend", "egl"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVIZ_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("LLMVIZ_STATE_DIR", str(tmp_path / "state"))
    errors.logger.cache_clear()
    yield tmp_path
    errors.logger.cache_clear()


def open_window(settings: Settings):
    """The app's window as run() makes it from these settings (headless)."""
    from llmviz_desktop.app.window import LlmvizWindow

    attrs = {"model_spec": settings.model, "model_from_settings": True}
    cls = type("TestWindow", (LlmvizWindow,), {**attrs, "startup_settings": settings})
    return mglw.create_window_config_instance(cls, args=HEADLESS)


def frames(win, n: int = 3) -> None:
    for i in range(n):
        win.on_render(i / 60, 1 / 60)


def test_the_model_box_names_the_model_on_screen():
    choices, k, locked = model_box("gpt2", "gpt2")
    assert choices[k] == "gpt2" and not locked
    choices, k, locked = model_box("gpt2", "gpt3")  # the scale chapter's GPT-3 step
    assert choices[k] == "gpt3" and locked
    choices, k, locked = model_box("/runs/mine", "scale")  # a folder, the scale scene
    assert choices[k] == "scale" and "/runs/mine" in choices and locked


def test_progress_round_trips_and_bad_values_are_refused(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(chapter="stack", step=3, progress=0.37)
    save_settings(s, path)
    assert load_settings(path) == (s, None)
    path.write_text(json.dumps({"chapter": "stack", "step": 3, "progress": 1}))
    loaded, warning = load_settings(path)
    assert warning is None and loaded.progress == 1.0 and isinstance(loaded.progress, float)
    for bad in (1.5, -0.1, True, "0.5", math.nan):
        path.write_text(json.dumps({"progress": bad}))
        loaded, warning = load_settings(path)
        assert loaded == Settings() and warning is not None and "progress" in warning


def _gpt3_step(win) -> int:
    player = win.state.controllers.player
    chapter = player.chapter
    return next(k for k, s in enumerate(chapter.steps) if (s.model or chapter.model) == "gpt3")


@pytest.mark.gl
def test_after_a_restart_the_scene_the_box_and_the_moment_are_those_that_were_shown(home):
    first = open_window(Settings(model="gpt2", chapter="scale"))
    frames(first)
    player = first.state.controllers.player
    assert player.active and player.chapter.id == "scale"
    k = _gpt3_step(first)
    player.goto_step(k, 0.6)
    frames(first)
    shown = first.shown
    assert shown.model.name == "gpt3" and first.state.home.name == "gpt2"
    assert model_box(first.state.home.name, shown.model.name)[2]  # named gpt3, locked
    camera = shown.walk.camera
    first.on_close()
    saved = json.loads((home / "config" / "settings.json").read_text())
    assert (saved["model"], saved["chapter"], saved["step"], saved["progress"]) == (
        "gpt2",
        "scale",
        k,
        0.6,
    )

    settings, warning = load_settings()
    assert warning is None
    again = open_window(settings)
    frames(again)
    p = again.state.controllers.player
    assert (p.chapter.id, p.step, p.progress) == ("scale", k, 0.6)
    assert again.shown.model.name == "gpt3" and again.state.home.name == "gpt2"
    assert again.shown.walk.camera == camera  # the same picture, not the step's start
    again.on_close()


@pytest.mark.gl
def test_a_restart_shows_the_saved_moment_not_the_steps_start(home):
    """Saved at the end of a step that computes tensors, the restart shows them computed (before:
    the step restarted at progress 0, its tensors blank)."""
    from llmviz_desktop.walkthrough.timeline import animation_tensors

    first = open_window(Settings(model="nano-sort", chapter="stack"))
    frames(first)
    player = first.state.controllers.player
    k = next(i for i, s in enumerate(player.chapter.steps) if s.animation.kind == "stack")
    player.goto_step(k, 1.0)
    frames(first)
    before = dict(first.shown.walk.reveal)
    first.on_close()

    again = open_window(load_settings()[0])
    frames(again)
    walk = again.shown.walk
    assert (walk.chapter, walk.step, walk.progress) == ("stack", k, 1.0)
    assert walk.reveal == before
    computed = animation_tensors(again.shown.model.scene, player.chapter.steps[k])
    assert computed and all(walk.reveal.get(b, (1.0, 0))[0] == 1.0 for b in computed)
    again.on_close()


@pytest.mark.gl
def test_leaving_the_walkthrough_gives_the_box_and_the_scene_back_to_the_users_model(home):
    win = open_window(Settings(model="gpt2", chapter="scale"))
    frames(win)
    win.state.controllers.player.goto_step(_gpt3_step(win), 0.5)
    frames(win)
    assert win.shown.model.name == "gpt3"
    player = win.state.controllers.player
    player.playing = player.active = False  # what 'leave the walkthrough' does to the player
    frames(win)
    assert win.shown.model.name == "gpt2" and not model_box("gpt2", win.shown.model.name)[2]
    win.on_close()
    saved = json.loads((home / "config" / "settings.json").read_text())
    assert (saved["model"], saved["chapter"], saved["progress"]) == ("gpt2", "", 0.0)
