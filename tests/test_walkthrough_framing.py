"""Issue 15's must-holds for the walkthrough's camera and motion, at 1280x720 with the panels
shown:

- every step names its subject (its highlighted boxes that are drawn) and at progress 1 its
  camera frames it in the free area: the subject spans >= 40 % of the free area's width or
  height, its largest tensor >= 10 %, and >= 90 % of it lies inside (scene/subject.py);
- at most 10 % of the steps look the same at progress 0.3 and 1.

The framing test is pure (the camera comes from walkthrough.frame_at with the free area the
headless render settles on, checked against a real render below); the plays test renders
every step twice in one headless session. Steps known not to hold yet are listed with why:
such a step that starts to hold fails the test too, so the lists only shrink.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.framing import Framing
from llmviz_desktop.scene.subject import measure_subject, subject_boxes
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.stage import Stage
from llmviz_desktop.walkthrough.chapters import ChapterError, load_chapter, load_chapters
from llmviz_desktop.walkthrough.player import Player
from llmviz_desktop.walkthrough.timeline import frame_at

W, H = 1280, 720
EARLY, LATE = 0.3, 1.0
PIXEL_STEP = 24  # of 255: a channel change a viewer notices
SAME_BELOW = 0.01  # fewer changed pixels than this fraction of the free area: looks the same

# (chapter id, step number from 1): why the step does not hold yet
KNOWN_UNFRAMED: dict[tuple[str, int], str] = {}
KNOWN_STILL: dict[tuple[str, int], str] = {}


@pytest.fixture(scope="module")
def home():
    return load_model("nano-sort", None)


def _moments(home, progress: float):
    """(chapter id, step number, model shown, WalkFrame) of every step, as the app derives
    them (session/stage.py) for a 1280x720 window whose panels stand where they open."""
    chapters, stage, framing = load_chapters(), Stage(), Framing(W, H)
    assert not chapters.errors
    for ci, chapter in enumerate(chapters.chapters):
        player = Player(chapters, chapter_index=ci, active=True)
        for k in range(len(chapter.steps)):
            player.goto_step(k, progress)
            model, walk = stage.moment(player, home, framing)
            yield chapter.id, k + 1, model, walk


def _check_known(failing: dict, known: dict, what: str) -> None:
    unexpected = {k: v for k, v in failing.items() if k not in known}
    assert not unexpected, f"steps that do not {what}: {unexpected}"
    now_hold = sorted(set(known) - set(failing))
    assert not now_hold, f"these steps now {what}: remove them from the known list: {now_hold}"


def test_every_step_frames_its_subject(home):
    free = Framing(W, H).rect
    failing = {}
    for cid, n, model, walk in _moments(home, LATE):
        boxes = subject_boxes(walk.highlight, walk.alpha)
        f = measure_subject(model.scene, walk.camera, W, H, free, boxes)
        if not f.ok:
            failing[(cid, n)] = (
                f"{len(boxes)} boxes, span {f.span:.2f} largest {f.largest:.2f} in {f.inside:.2f}"
            )
    _check_known(failing, KNOWN_UNFRAMED, "frame their subject")


def test_measure_subject_figures(home):
    scene = home.scene
    k = scene.index_of["h.0.mlp.c_fc.weight"]
    box = scene.boxes[k]
    free = (100.0, 50.0, 600.0, 650.0)
    framing = Framing(W, H, free)
    cam = framing.boxes(box.min_corner, box.max_corner, 0.0, 0.0, 1.0)
    f = measure_subject(scene, cam, W, H, free, [k])
    assert f.tensors == [box.name] and f.ok
    assert f.span == pytest.approx(1.0, abs=0.03) and f.largest == f.span and f.inside > 0.99
    x0, y0, x1, y1 = f.box
    assert free[0] - 20 <= x0 < x1 <= free[2] + 20 and free[1] - 20 <= y0 < y1 <= free[3] + 20
    # framed around the free area's right edge: about half of it is inside
    edge = Framing(W, H, (free[2] - 250.0, free[1], free[2] + 250.0, free[3]))
    half = edge.boxes(box.min_corner, box.max_corner, 0.0, 0.0, 1.0)
    g = measure_subject(scene, half, W, H, free, [k])
    assert g.inside == pytest.approx(0.5, abs=0.06) and not g.ok
    # behind the eye, or nothing named: no figures
    behind = Camera(target=tuple(np.add(box.center, (0.0, 0.0, 50.0))), distance=10.0, yaw=180.0)
    assert measure_subject(scene, behind, W, H, free, [k]).span == 0.0
    assert measure_subject(scene, cam, W, H, free, []).ok is False
    # a step's subject: highlighted and drawn
    assert subject_boxes({3, 1, 2}, {2: 0.0, 3: 0.16}) == [1, 3]


def _chapter(tmp_path, steps: str):
    path = tmp_path / "c.toml"
    path.write_text(f'id = "c"\ntitle = "C"\n{steps}')
    return load_chapter(path)


def test_camera_end_travels_through_the_step(tmp_path, home):
    chapter = _chapter(
        tmp_path,
        '[[steps]]\ntitle = "a"\ntext = "a"\nduration = 10.0\n'
        'camera = { frame = ["emb"] }\ncamera_end = { frame = ["h.0.mlp.*"], yaw = -30 }\n'
        '[[steps]]\ntitle = "b"\ntext = "b"\n',
    )
    framing, start = Framing(W, H), Camera()
    a = [frame_at(chapter, 0, p, home, framing, start).camera for p in (0.15, 0.5, 1.0)]
    emb, mlp = (np.asarray(home.scene.by_name[n].center) for n in ("emb", "h.0.mlp.fc"))
    assert np.linalg.norm(np.asarray(a[0].target) - emb) < 5.0  # arrived at `camera`
    assert a[1] != a[0] and a[1] != a[2]  # still travelling
    assert a[2].yaw == pytest.approx(-30.0)  # at camera_end
    # the next step keeps the camera where the last one ended
    assert frame_at(chapter, 1, 0.0, home, framing, start).camera == a[2]


def test_camera_end_is_validated(tmp_path):
    with pytest.raises(ChapterError, match=r"steps\[0\]\.camera_end: unknown preset 'nope'"):
        _chapter(tmp_path, '[[steps]]\ntitle = "a"\ntext = "a"\ncamera_end = "nope"\n')
    with pytest.raises(ChapterError, match=r"camera_end\.yaw: expected a finite number"):
        _chapter(
            tmp_path,
            '[[steps]]\ntitle = "a"\ntext = "a"\ncamera_end = { frame = ["x"], yaw = "l" }\n',
        )


def _changed(a: np.ndarray, b: np.ndarray, free) -> float:
    x0, y0, x1, y1 = (int(round(v)) for v in free)
    d = a[y0:y1, x0:x1, :3].astype(np.int16) - b[y0:y1, x0:x1, :3].astype(np.int16)
    return float((np.abs(d).max(axis=-1) > PIXEL_STEP).mean())


@pytest.mark.gl
def test_render_report_subject_matches_the_pure_figures(tmp_path, home):
    """The report's free area is the one the pure test frames into, and its subject block
    carries the same figures (the report's other walkthrough fields stay)."""
    from llmviz_desktop.cli.main import main

    free = Framing(W, H).rect
    expected = {
        (cid, n): (model, walk)
        for cid, n, model, walk in _moments(home, LATE)
        if (cid, n) in (("embedding", 3), ("scale", 9))
    }
    for (cid, n), (model, walk) in expected.items():
        png, rep = tmp_path / f"{cid}.png", tmp_path / f"{cid}.json"
        args = ["render", "--out", str(png), "--size", f"{W}x{H}", "--chapter", cid]
        assert main([*args, "--step", str(n), "--progress", "1", "--report", str(rep)]) == 0
        report = json.loads(rep.read_text())
        assert report["free_area"] == list(free)
        wt = report["walkthrough"]
        for key in ("chapter", "step", "title", "progress", "text", "highlighted", "cells"):
            assert key in wt
        s = wt["subject"]
        pure = measure_subject(
            model.scene, walk.camera, W, H, free, subject_boxes(walk.highlight, walk.alpha)
        )
        assert s["tensors"] == pure.tensors
        for key in ("span", "largest", "inside"):
            assert s[key] == pytest.approx(getattr(pure, key), abs=1e-6)
        assert s["span"] >= 0.4 and s["largest"] >= 0.1 and s["inside"] >= 0.9


@pytest.mark.gl
@pytest.mark.slow
def test_steps_visibly_play(home):
    """Every step rendered at progress 0.3 and 1 in one headless session (~30 s)."""
    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session.state import AppState

    chapters = load_chapters()
    state = AppState.create(home, camera_preset("overview", home.scene, W, H), width=W, height=H)
    session = HeadlessSession(W, H)
    same, n = {}, 0
    try:
        for ci, chapter in enumerate(chapters.chapters):
            player = state.controllers.player = Player(chapters, chapter_index=ci, active=True)
            for k in range(len(chapter.steps)):
                images = []
                for p in (EARLY, LATE):
                    player.goto_step(k, p)
                    images.append(session.render(state))
                assert session.last is not None
                moved = _changed(images[0], images[1], session.last.free_area)
                n += 1
                if moved < SAME_BELOW:
                    same[(chapter.id, k + 1)] = f"{moved:.2%} of the free area changes"
        assert session.ctx.error == "GL_NO_ERROR"
    finally:
        session.release()
    # every moment drew whole: no stage (labels, notes, strokes, flows, hover) failed
    assert not state.messages.errors, state.messages.errors
    assert len(same) <= 0.1 * n, same
    _check_known(same, KNOWN_STILL, "visibly play")
