"""The scale scene (issue 14, item 6): nano-sort, gpt2, gpt2-xl and gpt3 in one scene at one
scale, side by side, each with a card; the scale chapter ends on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import llmviz
from PIL import Image

from llmviz_desktop.model.config import preset
from llmviz_desktop.model.counts import count_params
from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.framing import Framing, free_area
from llmviz_desktop.scene.layout import build_scene
from llmviz_desktop.scene.scale import (
    GRID_PX,
    LEADER_PX,
    NEAR_PX,
    SCALE_MODELS,
    build_scale_scene,
    card_labels,
    card_of,
    model_boxes,
    scale_overlay,
)
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.walkthrough.chapters import load_chapters
from llmviz_desktop.walkthrough.timeline import step_camera, step_end_camera

W, H = 1280, 720


@pytest.fixture(scope="module")
def scene():
    return build_scale_scene()


def test_four_models_with_unique_prefixed_names(scene):
    assert scene.models == SCALE_MODELS == ("nano-sort", "gpt2", "gpt2-xl", "gpt3")
    names = [b.name for b in scene.boxes]
    assert len(names) == len(set(names))
    for model in SCALE_MODELS:
        own = build_scene(preset(model))
        assert len(model_boxes(scene, model)) == len(own.boxes)
        assert f"{model}/wte.weight" in scene
    # what each box reads names a box of the same model
    for box in scene.boxes:
        for read in box.inputs:
            assert read.name in scene and read.name.split("/")[0] == box.name.split("/")[0]


def test_one_scale_each_model_only_moved(scene):
    """A cell is one world unit in every model: every box keeps its size and its layer, head
    and group, and a model's boxes all move by one offset (a translation, no scaling)."""
    for model in SCALE_MODELS:
        own = build_scene(preset(model))
        offsets = set()
        for box in own.boxes:
            moved = scene[f"{model}/{box.name}"]
            assert moved.size == box.size and moved.shape == box.shape
            assert (moved.layer, moved.head, moved.group) == (box.layer, box.head, box.group)
            cell_w = moved.size[0] / moved.cols
            assert cell_w == pytest.approx(scene.cell)
            offsets.add(tuple(np.round(np.subtract(moved.origin, box.origin), 6)))
        assert len(offsets) == 1


def test_side_by_side_tops_aligned_without_overlap(scene):
    cards = scene.cards
    assert [c.model for c in cards] == list(SCALE_MODELS)
    for a, b in zip(cards, cards[1:], strict=False):
        assert a.hi[0] < b.lo[0]  # left to right, a gap between neighbours
    for card in cards:
        assert card.hi[1] == pytest.approx(0.0)  # tops aligned at y = 0
        boxes = scene.aabbs()[model_boxes(scene, card.model)]
        assert np.allclose(boxes[:, 0].min(axis=0), card.lo)
        assert np.allclose(boxes[:, 1].max(axis=0), card.hi)
    # largest first in size: gpt3's height dwarfs nano-sort's
    heights = [c.hi[1] - c.lo[1] for c in cards]
    assert heights == sorted(heights)


def test_cards_carry_the_models_numbers(scene):
    for card in scene.cards:
        cfg = preset(card.model)
        total = count_params(cfg).total
        text = " | ".join(card.lines)
        assert card.config == cfg
        assert f"{cfg.n_layer} layers · {cfg.n_head} heads" in text
        assert f"C = {cfg.n_embd:,}" in text
        assert f"context {cfg.block_size:,}" in text
        assert f"{total:,}" in card.lines  # the exact count from model/counts.py
    gpt3 = scene.cards[-1]
    assert gpt3.title == "GPT-3" and "175 billion parameters" in gpt3.lines
    assert "175,221,817,344" in gpt3.lines
    labels = card_labels(scene)
    assert len(labels) == sum(1 + len(c.lines) for c in scene.cards)
    assert card_of(scene, "gpt2/h.0.mlp.fc") == (scene.cards[1], "h.0.mlp.fc")


def test_load_model_scale_spec():
    m = load_model("scale")
    assert m.name == "scale" and m.params is None and m.trace is None
    assert m.scene.models == SCALE_MODELS
    assert load_model("nano-sort").scene.models == ()  # one model: no cards


def _step_camera(scene, n: int, end: bool = True) -> Camera:
    """The scale chapter's step n (from 1) camera at its end (progress 1) or its start."""
    chapter = load_chapters().by_id("scale")
    step = chapter.steps[n - 1]
    assert (step.model or chapter.model) == "scale"
    return (step_end_camera if end else step_camera)(step, scene, Framing(W, H), Camera())


def _last_step_camera(scene) -> Camera:
    return _step_camera(scene, len(load_chapters().by_id("scale").steps))


def _model_spans(scene, camera: Camera) -> dict[str, tuple[float, float]]:
    """Pixel x range of each model's boxes that lie on screen (projected corners)."""
    lo, hi = scene.aabbs()[:, 0], scene.aabbs()[:, 1]
    corners = np.stack(
        [np.where([sx, sy, sz], hi, lo) for sx in (0, 1) for sy in (0, 1) for sz in (0, 1)],
        axis=1,
    )
    p = camera.project(corners.reshape(-1, 3), W, H).reshape(-1, 8, 3)
    x0, x1 = p[..., 0].min(axis=1), p[..., 0].max(axis=1)
    y0, y1 = p[..., 1].min(axis=1), p[..., 1].max(axis=1)
    seen = (p[..., 2] > 0).all(axis=1) & (x1 >= 0) & (x0 <= W) & (y1 >= 0) & (y0 <= H)
    out = {}
    for model in SCALE_MODELS:
        ks = [k for k in model_boxes(scene, model) if seen[k]]
        if ks:
            out[model] = (float(np.clip(x0[ks].min(), 0, W)), float(np.clip(x1[ks].max(), 0, W)))
    return out


def test_last_step_frames_four_models_over_half_the_free_width(scene):
    camera = _last_step_camera(scene)
    spans = _model_spans(scene, camera)
    assert set(spans) == set(SCALE_MODELS)
    left, right = free_area(W, H)
    span = max(b for _, b in spans.values()) - min(a for a, _ in spans.values())
    assert span >= 0.5 * (right - left)
    overlay = scale_overlay(scene, camera, W, H, Framing(W, H).rect)
    assert {t.model for t in overlay.texts if t.kind == "card-title"} == set(SCALE_MODELS)
    for a in overlay.cards:  # cards never cover one another
        for b in overlay.cards:
            if a is not b:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    assert scale_overlay(load_model("nano-sort").scene, camera, W, H).texts == []


@pytest.mark.gl
def test_chapter_last_step_renders_the_scale_scene(tmp_path):
    """Headless: the scale chapter's last step draws the four models spanning at least half
    the free width (measured from the render's report: each model's boxes on screen)."""
    n = len(load_chapters().by_id("scale").steps)
    out, report = tmp_path / "scale.png", tmp_path / "scale.json"
    run = llmviz(
        "render",
        "--chapter",
        "scale",
        "--step",
        str(n),
        "--progress",
        "1",
        "--size",
        f"{W}x{H}",
        "--out",
        str(out),
        "--report",
        str(report),
        timeout=240,
    )
    assert run.returncode == 0, run.stderr
    r = json.loads(report.read_text())
    assert r["model"] == "scale"
    assert len(r["models"]) >= 4 and set(r["models"]) == set(SCALE_MODELS)
    x0, y0, x1, y1 = r["free_area"]
    spans: dict[str, list[float]] = {}
    for name, (a, _, b, _) in r["screen_boxes"].items():
        model = name.split("/")[0]
        lo, hi = spans.get(model, [a, b])
        spans[model] = [min(lo, a), max(hi, b)]
    assert set(spans) == set(SCALE_MODELS)  # every model has boxes on screen
    span = max(b for _, b in spans.values()) - min(a for a, _ in spans.values())
    assert span >= 0.5 * (x1 - x0), (span, x1 - x0)
    image = np.asarray(Image.open(out).convert("L"))[int(y0) : int(y1)]
    for model, (a, b) in spans.items():  # drawn: some pixel of the free area in its columns
        cols = image[:, int(a) : max(int(np.ceil(b)), int(a) + 1)]
        assert (cols > 40).any(), model


def _boxes_on_screen(scene, camera: Camera, rect) -> tuple[np.ndarray, np.ndarray]:
    """Projected pixel rects of the boxes in front of the eye that reach into rect, and the
    model each belongs to."""
    from llmviz_desktop.scene.scale import boxes_reaching

    rects, _, on = boxes_reaching(scene, camera, W, H, rect)
    models = np.array([b.name.split("/")[0] for b in scene.boxes])
    return rects[on], models[on]


def _gap(a, b) -> float:
    """Pixels between two rects (0 when they touch or overlap)."""
    return float(np.hypot(max(0.0, b[0] - a[2], a[0] - b[2]), max(0.0, b[1] - a[3], a[1] - b[3])))


@pytest.mark.parametrize("n", [6, 7, 8, 9, 10])
@pytest.mark.parametrize("end", [True, False])
def test_cards_stand_beside_their_model_never_over_one(scene, n, end):
    """Issue 15: at the start and end of every side-by-side step, a card covers no box of any
    model and no other card, lies in the free area, and stands beside its own model (within
    reach, a leader when apart); the models the step frames whole all have a card."""
    rect = Framing(W, H).rect
    camera = _step_camera(scene, n, end)
    overlay = scale_overlay(scene, camera, W, H, rect)
    boxes, owners = _boxes_on_screen(scene, camera, rect)
    titles = [t for t in overlay.texts if t.kind == "card-title"]
    assert len(titles) == len(overlay.cards) >= 1
    for title, card in zip(titles, overlay.cards, strict=True):
        x0, y0, x1, y1 = card
        assert rect[0] <= x0 < x1 <= rect[2] and rect[1] <= y0 < y1 <= rect[3]
        hit = (boxes[:, 0] < x1) & (x0 < boxes[:, 2]) & (boxes[:, 1] < y1) & (y0 < boxes[:, 3])
        assert not hit.any(), (n, title.text, sorted(set(owners[hit])))
        for other in overlay.cards:
            assert other is card or _gap(card, other) > 0
        own = boxes[owners == title.model]
        near = min(_gap(card, b) for b in own)
        assert near <= NEAR_PX[-1] + GRID_PX, (n, title.text, near)
        leader = [ld for ld in overlay.leaders if ld.model == title.model]
        assert near <= LEADER_PX or leader, (n, title.text)
    if end:  # the whole-framed models of the step's end view have their card
        step = load_chapters().by_id("scale").steps[n - 1]
        framed = {g.split("/")[0] for g in step.highlight if g.endswith("/*")}
        assert framed <= {t.model for t in titles}, (n, framed)


def test_a_card_with_no_free_place_is_dropped(scene):
    """A free area wholly inside GPT-3's token table, seen face on: its card has nowhere to
    stand beside the model without covering it, so no card is drawn."""
    box = scene["gpt3/wte.weight"]
    camera = Framing(W, H, (0.0, 0.0, W, H)).boxes(box.min_corner, box.max_corner, 0.0, 0.0, 1.0)
    boxes, _ = _boxes_on_screen(scene, camera, (0.0, 0.0, W, H))
    k = np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    x0, y0, x1, y1 = boxes[k]
    inner = (x0 + 10, y0 + 10, x1 - 10, y1 - 10)
    assert inner[2] - inner[0] > 180 and inner[3] - inner[1] > 120  # room for a card's size
    assert scale_overlay(scene, camera, W, H, inner).cards == []


def test_a_speck_gets_its_card_and_a_leader(scene):
    """GPT-2 beside it (step 7): nano-sort is a speck at GPT-2's top left; its card stands
    beside it and a leader points at it."""
    overlay = scale_overlay(scene, _step_camera(scene, 7), W, H, Framing(W, H).rect)
    assert "nano-sort" in {t.model for t in overlay.texts if t.kind == "card-title"}
    assert [ld.model for ld in overlay.leaders].count("nano-sort") == 1
