"""Nothing lost: settings persist atomically, a corrupt file is moved aside; errors inside the
UI are shown and logged while the app keeps going."""

from __future__ import annotations

import errno
import json
import os

import pytest
from cli_run import llmviz

from llmviz_desktop.session.settings import Settings, load_settings, save_settings


def test_settings_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(
        window_width=1600,
        model="gpt2",
        symlog=True,
        normalise="global",
        chapter="attention",
        step=2,
        recent_checkpoints=["/runs/a", "/runs/b"],
    )
    save_settings(s, path)
    loaded, warning = load_settings(path)
    assert warning is None and loaded == s
    assert loaded.recent_checkpoints == ["/runs/a", "/runs/b"]


def test_missing_settings_give_defaults_quietly(tmp_path):
    assert load_settings(tmp_path / "none.json") == (Settings(), None)


@pytest.mark.parametrize(
    "content",
    [
        b"{ not json",
        b"\xff\xfe garbage",
        b"[1, 2]",
        json.dumps({"window_width": "wide"}).encode(),
        json.dumps({"normalise": "sideways"}).encode(),
        b"[" * 100000,
    ],
)
def test_corrupt_settings_are_moved_aside_with_a_warning(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    settings, warning = load_settings(path)
    assert settings == Settings()
    assert warning is not None and "settings.json" in warning and "\n" not in warning
    assert not path.exists()
    aside = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content


def test_a_failing_writer_leaves_the_previous_settings_intact(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    save_settings(Settings(model="gpt2"), path)
    before = path.read_bytes()
    real_fsync = os.fsync

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        save_settings(Settings(model="gpt3"), path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp litter


@pytest.mark.gl
def test_a_panel_that_raises_is_shown_logged_and_survived(tmp_path, monkeypatch):
    """An exception inside a panel: the frame still completes, the error panel shows one line,
    the traceback is in the log file, and the next frame works."""
    monkeypatch.setenv("LLMVIZ_STATE_DIR", str(tmp_path))
    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session import errors
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState
    from llmviz_desktop.ui import panels

    errors.logger.cache_clear()
    calls = {"n": 0}
    real = panels.draw_walkthrough_panel

    def broken(state, frame, actions):
        calls["n"] += 1
        from imgui_bundle import imgui

        imgui.begin("half-drawn window")  # left open on purpose: recovery must close it
        raise RuntimeError("boom in the walkthrough panel")

    monkeypatch.setattr(panels, "draw_walkthrough_panel", broken)
    model = load_model("nano-sort")
    session = HeadlessSession(640, 360)
    try:
        state = AppState.create(
            model, camera_preset("overview", model.scene, 640, 360), width=640, height=360
        )
        session.render(state)
        session.render(state)
        assert calls["n"] >= 2 and session.ctx.error == "GL_NO_ERROR"
        assert (
            len(state.messages.errors) == 1
            and "boom in the walkthrough panel" in state.messages.errors[0]
        )
        log = (tmp_path / "llmviz.log").read_text()
        assert "Traceback" in log and "RuntimeError: boom" in log
        monkeypatch.setattr(panels, "draw_walkthrough_panel", real)
        state.messages.errors.clear()
        session.render(state)
        assert state.messages.errors == []
    finally:
        session.release()
        errors.logger.cache_clear()


@pytest.mark.gl
def test_a_failing_screenshot_writer_keeps_the_previous_image(tmp_path):
    """`llmviz render` writes through a temp file: when the disk is full the old PNG stays
    whole, the error is one line, and no temp file is left behind."""

    out = tmp_path / "shot.png"
    out.write_bytes(b"previous image")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import errno, PIL.Image\n"
        "def full(self, *a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "PIL.Image.Image.save = full\n"
    )
    path = f"{shim}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    result = llmviz("render", "--out", str(out), "--size", "160x90", env={"PYTHONPATH": path})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "No space left" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"previous image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shim", "shot.png"]


def test_an_animation_that_raises_is_shown_logged_and_survived(tmp_path, monkeypatch):
    """What every front end's frame step (app.tick) does with the walkthrough: a failing
    animation gives one error line and a logged traceback, the player stops, the frame still
    comes with the home model; the next frames work again."""
    monkeypatch.setenv("LLMVIZ_STATE_DIR", str(tmp_path))
    from llmviz_desktop.app.tick import Ticker
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session import errors
    from llmviz_desktop.session import stage as stage_module
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState
    from llmviz_desktop.walkthrough.chapters import load_chapters
    from llmviz_desktop.walkthrough.player import Player

    errors.logger.cache_clear()
    model = load_model("nano-sort")
    state = AppState.create(
        model, camera_preset("overview", model.scene, 640, 360), width=640, height=360
    )
    state.controllers.player = Player(load_chapters())
    state.controllers.player.active = True
    ticker = Ticker()
    real = stage_module.frame_at

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom in an animation")

    try:
        monkeypatch.setattr(stage_module, "frame_at", broken)
        for _ in range(3):  # the same failure every frame is shown once
            state.controllers.player.playing = True
            frame = ticker.tick(state, 1 / 60)
            assert frame.walk is None and frame.model is state.home
            assert not state.controllers.player.playing
        assert (
            len(state.messages.errors) == 1 and "boom in an animation" in state.messages.errors[0]
        )
        assert len(state.messages.errors[0].splitlines()) == 1
        log = (tmp_path / "llmviz.log").read_text()
        assert "Traceback" in log and "ZeroDivisionError: boom" in log
        monkeypatch.setattr(stage_module, "frame_at", real)
        assert ticker.tick(state, 1 / 60).walk is not None
        assert len(state.messages.errors) == 1
    finally:
        errors.logger.cache_clear()


@pytest.mark.gl
def test_panels_keep_their_edge_when_the_window_resizes():
    """The walkthrough panel docked on the right stays on the right edge when the window
    narrows or widens (Dear ImGui alone keeps it at its old x: cut off, or floating)."""
    from imgui_bundle import imgui

    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session.loaded import load_model
    from llmviz_desktop.session.state import AppState

    model = load_model("nano-sort")
    session = HeadlessSession(1280, 720)
    try:
        state = AppState.create(
            model, camera_preset("overview", model.scene, 1280, 720), width=1280, height=720
        )
        gaps = []
        for width in (1280, 1000, 1600, 1280):
            session.ui.width = state.view.width = width
            session.render(state)
            panel = imgui.internal.find_window_by_name("Walkthrough")
            model_panel = imgui.internal.find_window_by_name("llmviz")
            gaps.append(width - (panel.pos.x + panel.size.x))
            assert model_panel.pos.x < 20  # the left-docked panel stays left
        assert max(gaps) - min(gaps) < 1.0 and 0 <= gaps[0] < 30, gaps
    finally:
        session.release()
