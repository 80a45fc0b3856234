"""The label placement pass (scene/labels.py): readable, attached, never overlapping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from llmviz_desktop.model.activations import Op
from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.framing import camera_preset, default_panels
from llmviz_desktop.scene.labels import (
    GAP,
    MIN_PX,
    place,
    screen_rects,
    title_texts,
)

W, H = 1280, 720


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _gap(a, b) -> float:
    """Distance between two rectangles (0 when they touch or overlap)."""
    dx = max(b[0] - a[2], a[0] - b[2], 0.0)
    dy = max(b[1] - a[3], a[1] - b[3], 0.0)
    return float(np.hypot(dx, dy))


def _cameras(scene):
    yield camera_preset("overview", scene, W, H)
    yield camera_preset("front", scene, W, H)
    yield camera_preset("top-layer", scene, W, H)
    yield camera_preset("output", scene, W, H)
    lo, hi = np.array(scene.bounds[0]), np.array(scene.bounds[1])
    rng = np.random.default_rng(3)
    for _ in range(6):  # mid zoom and close-ups at random points of the model
        target = lo + rng.random(3) * (hi - lo)
        dist = float(rng.uniform(60, 600))
        yaw, pitch = float(rng.uniform(-60, 60)), float(rng.uniform(-20, 40))
        yield Camera(target=tuple(target), distance=dist, yaw=yaw, pitch=pitch)


def _token_text(nano):
    vocab = nano.config.vocab
    return {
        b.name: [vocab[int(i)] for i in b.source.matrix(nano.trace, nano.params)[0]]
        for b in nano.scene.boxes
        if b.kind == "token"
    }


def _all(nano, cam, **kw):
    kw.setdefault("token_text", _token_text(nano))
    kw.setdefault("vocab", nano.config.vocab)
    kw.setdefault("panels", default_panels(W, H))
    return place(nano.scene, cam, W, H, **kw)


def test_labels_never_overlap_and_never_shrink_below_the_minimum(nano):
    focus = ["h.0.attn.head1.q", "h.0.mlp.c_fc.weight", "logits"]
    for cam in _cameras(nano.scene):
        for f in ((), focus):
            p = _all(nano, cam, focus=f)
            rects = [lb.rect for lb in p.labels] + [s.rect for s in p.sections]
            for a, b in itertools.combinations(rects, 2):
                assert not _overlap(a, b), (a, b)
            for lb in p.labels:
                assert lb.size >= MIN_PX - 1e-9, lb
                x0, y0, x1, y1 = lb.rect
                assert 0 <= x0 and x1 <= W and 0 <= y0 and y1 <= H
                for panel in default_panels(W, H):
                    assert not _overlap(lb.rect, panel), (lb, panel)
            for s in p.sections:
                assert s.size >= MIN_PX
                assert all(not _overlap(s.rect, panel) for panel in default_panels(W, H))


def test_titles_stay_attached_to_their_box(nano):
    for cam in _cameras(nano.scene):
        rects, _, _ = screen_rects(nano.scene, cam, W, H)
        index = nano.scene.index_of
        for lb in _all(nano, cam).labels:
            box = rects[index[lb.box]]
            assert _gap(lb.rect, box) <= GAP + 1.0, (lb, box)


def test_the_mlp_up_projection_is_named_at_mid_zoom(nano):
    box = nano.scene["h.0.mlp.c_fc.weight"]
    lo, hi = np.array(box.min_corner), np.array(box.max_corner)
    cam = camera_preset("front", nano.scene, W, H)
    cam = Camera(target=tuple((lo + hi) / 2), distance=float(hi[1] - lo[1]) * 3.0, yaw=-20)
    titles = {lb.box for lb in _all(nano, cam).labels if lb.kind in ("title", "focus")}
    assert "h.0.mlp.c_fc.weight" in titles


def test_focused_boxes_win_and_get_dimension_labels(nano):
    cam = camera_preset("overview", nano.scene, W, H)
    rects, front, _ = screen_rects(nano.scene, cam, W, H)
    plain = {lb.box for lb in _all(nano, cam).labels if lb.kind in ("title", "focus")}
    # visible boxes that lost their title without focus
    lost = [
        b.name
        for k, b in enumerate(nano.scene.boxes)
        if front[k] and b.name not in plain and 0 < rects[k, 0] < W and 0 < rects[k, 1] < H
    ]
    assert lost
    for name in lost[:5]:
        p = _all(nano, cam, focus=[name])
        assert name in {lb.box for lb in p.labels if lb.kind in ("title", "focus")}, name
    box = nano.scene["h.0.attn.head0.q"]
    near = Camera(target=box.center, distance=80.0, yaw=-15, pitch=10)
    dims = {lb.text for lb in _all(nano, near, focus=[box.name]).labels if lb.kind == "dim"}
    assert dims == {f"T = {box.cols}", f"D = {box.rows}"}
    assert not [lb for lb in _all(nano, near).labels if lb.kind == "dim"]


def test_vocabulary_letters_beside_the_logits_and_probabilities_rows(nano):
    found = [b for b in nano.scene.boxes if b.op in (Op.LOGITS, Op.PROBS)]
    assert len(found) == 2
    for box in found:
        cam = Camera(target=box.center, distance=60.0, yaw=-10, pitch=5)
        letters = [lb for lb in _all(nano, cam).labels if lb.kind == "vocab" and lb.box == box.name]
        assert [lb.text for lb in letters] == list(nano.config.vocab)
        ys = [lb.y for lb in letters]
        assert ys == sorted(ys)  # row 0 on top


def test_sections_run_down_one_side(nano):
    cam = camera_preset("front", nano.scene, W, H)
    secs = _all(nano, cam).sections
    assert len(secs) >= 3
    assert len({s.side for s in secs}) == 1
    tops = [s.y_top for s in secs]
    assert tops == sorted(tops)
    for a, b in itertools.pairwise(secs):
        assert a.y_bottom <= b.y_top


def test_placement_is_deterministic(nano):
    cam = camera_preset("overview", nano.scene, W, H)
    assert _all(nano, cam, focus=["logits"]) == _all(nano, cam, focus=["logits"])


@pytest.mark.parametrize(
    "title, forms",
    [
        ("Logits", ["Logits"]),
        ("Layer 2 · MLP output", ["Layer 2 · MLP output", "MLP output"]),
        (
            "Layer 1 · head 1 · output (weights · values)",
            ["Layer 1 · head 1 · output (weights · values)", "head 1 · output (weights · values)"],
        ),
        ("Layer 1 · LN 1 · gain", ["Layer 1 · LN 1 · gain", "LN 1 · gain", "gain"]),
    ],
)
def test_title_short_forms(title, forms):
    assert title_texts(title) == forms


def test_large_models_place_fast_enough_to_draw_every_frame(gpt3):
    import time

    cam = camera_preset("overview", gpt3.scene, W, H)
    place(gpt3.scene, cam, W, H)  # corners cached
    t = time.perf_counter()
    p = place(gpt3.scene, cam, W, H, panels=default_panels(W, H))
    assert time.perf_counter() - t < 0.5  # generous: a sanity bound, the figure is in bench
    rects = [lb.rect for lb in p.labels] + [s.rect for s in p.sections]
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b)
