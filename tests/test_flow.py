"""Data flow in 3D (scene/flow.py, render/flow_renderer.py): the paths follow the declared
inputs and the box positions, the residual adds get their "+", emphasis follows the hover and
the walkthrough, and the paths draw (on the software renderer) without GL errors."""

from __future__ import annotations

import numpy as np
import pytest

from llmviz_desktop.model.activations import Op
from llmviz_desktop.render.flow_renderer import ARROW, JOIN, flow_instances
from llmviz_desktop.scene.flow import (
    AMONG,
    INTO_FOCUS,
    KINDS,
    Flows,
    _World,
    build_flows,
    flow_emphasis,
    flow_opacity,
)
from llmviz_desktop.scene.layout import build_scene


@pytest.fixture(scope="module")
def flows(nano) -> Flows:
    return build_flows(nano.scene)


def _on_bounds(p: np.ndarray, box, tol: float = 1e-6) -> bool:
    """p lies on the surface of the box: inside its bounds and on one of its faces."""
    lo, hi = np.asarray(box.min_corner), np.asarray(box.max_corner)
    inside = np.all(p >= lo - tol) and np.all(p <= hi + tol)
    return bool(inside and (np.isclose(p, lo, atol=tol).any() or np.isclose(p, hi, atol=tol).any()))


def _adds(scene) -> list[int]:
    return [
        k
        for k, b in enumerate(scene.boxes)
        if b.op == Op.RESIDUAL_ADD and {r.role for r in b.inputs} >= {"stream", "branch"}
    ]


def test_every_residual_add_has_a_join_beside_it(nano, flows):
    scene = nano.scene
    adds = _adds(scene)
    assert len(adds) == 2 * scene.config.n_layer + 1  # emb = tok + pos, then two per block
    assert sorted(j.box for j in flows.joins) == adds
    world = _World(scene)
    for j in flows.joins:
        box = scene.boxes[j.box]
        stream, branch = (scene.index_of[r.name] for r in box.inputs)
        assert (j.stream, j.branch) == (stream, branch)
        c, r = np.asarray(j.center), j.radius
        lo, hi = np.asarray(box.min_corner), np.asarray(box.max_corner)
        assert r > 0
        # beside the add, level with it, clear of every box
        assert lo[1] <= c[1] <= hi[1]
        assert c[0] - r > hi[0] or c[0] + r < lo[0]
        assert abs(c[0] - np.clip(c[0], lo[0], hi[0])) < 4 * scene.gap
        ring = np.array([c - r, c + r])
        assert world.inside_length(ring, ()) == 0


def test_every_box_that_reads_a_value_gets_a_path(nano, flows):
    scene = nano.scene
    arriving = set(flows.dst.tolist())
    for k, box in enumerate(scene.boxes):
        if box.kind != "weight" and box.inputs:
            assert k in arriving, box.name
    assert {p.kind for p in flows.paths} == set(KINDS)
    # a modest count: fewer paths than boxes, never one per cell
    assert len(flows.paths) < len(scene.boxes)


def test_paths_follow_declared_inputs(nano, flows):
    scene = nano.scene
    for p in flows.paths:
        reads = {r.name for r in scene.boxes[p.dst].inputs}
        assert scene.boxes[p.src].name in reads
    # the residual stream: stream -> add; the branch: branch -> add, ending on the join
    for j, join in enumerate(flows.joins):
        kinds = {(p.kind, p.src) for p in flows.paths if p.dst == join.box}
        assert ("residual", join.stream) in kinds and ("add", join.branch) in kinds
        branch = next(p for p in flows.paths if p.join == j)
        assert branch.kind == "add"


def test_paths_start_and_end_on_their_boxes(nano, flows):
    scene = nano.scene
    for p in flows.paths:
        pts = p.points
        assert pts.shape[1] == 3 and len(pts) >= 2
        assert _on_bounds(pts[0], scene.boxes[p.src]), (p.kind, scene.boxes[p.src].name)
        if p.join >= 0:
            join = flows.joins[p.join]
            assert np.isclose(np.linalg.norm(pts[-1] - join.center), join.radius)
        else:
            assert _on_bounds(pts[-1], scene.boxes[p.dst]), (p.kind, scene.boxes[p.dst].name)


def test_paths_bend_at_right_angles_and_go_round_boxes(nano, flows):
    scene = nano.scene
    world = _World(scene)
    for p in flows.paths:
        moves = np.diff(p.points, axis=0)
        assert np.all(np.count_nonzero(np.abs(moves) > 1e-9, axis=1) == 1)
        if p.kind == "weight":
            continue  # W^T -> y passes its bias, which stands between them
        assert world.inside_length(p.points, (p.src, p.dst)) == 0, scene.boxes[p.dst].name


def test_the_residual_stream_runs_beside_the_block(nano, flows):
    """emb -> attn.residual skips the layer norm and the heads: its lane is clear of them."""
    scene = nano.scene
    index = scene.index_of
    path = next(
        p for p in flows.paths if p.kind == "residual" and p.dst == index["h.0.attn.residual"]
    )
    assert path.src == index["emb"]
    heads = [b for b in scene.boxes if b.layer == 0 and b.group == "attention"]
    lane = path.points[np.argmax(np.abs(np.diff(path.points[:, 1])))]  # the long drop
    assert all(lane[0] > b.max_corner[0] or lane[0] < b.min_corner[0] for b in heads)


def test_inputs_reached_through_another_input_are_left_out(nano, flows):
    """A layer norm's x -> mean -> rstd -> out, one chain; the softmax likewise."""
    index = nano.scene.index_of
    pairs = {(p.src, p.dst) for p in flows.paths}
    chain = ["emb", "h.0.ln_1.mean", "h.0.ln_1.rstd", "h.0.ln_1.out"]
    for a, b in zip(chain, chain[1:], strict=False):
        assert (index[a], index[b]) in pairs
    assert (index["emb"], index["h.0.ln_1.out"]) not in pairs
    probs = index["h.0.attn.head0.probs"]
    assert {s for s, d in pairs if d == probs} == {index["h.0.attn.head0.expsum"]}


def test_the_paths_follow_the_boxes_when_the_layout_moves(nano):
    """Nothing is tied to one layout: shift every box and the paths shift with them."""
    from dataclasses import replace

    scene = nano.scene
    shift = np.array([40.0, -7.0, 12.0])
    moved = replace(
        scene,
        boxes=tuple(replace(b, origin=tuple(np.asarray(b.origin) + shift)) for b in scene.boxes),
    )
    a, b = build_flows(scene), build_flows(moved)
    assert len(a.paths) == len(b.paths) and len(a.joins) == len(b.joins)
    for p, q in zip(a.paths, b.paths, strict=True):
        assert np.allclose(p.points + shift, q.points)


def test_emphasis_follows_a_hovered_box(nano, flows):
    from llmviz_desktop.scene.explain import explain

    scene = nano.scene
    index = scene.index_of
    name = "h.0.attn.residual"
    k = index[name]
    ex = explain(scene, name, 3, 2, nano.trace, nano.params)
    sources = {index[s.box] for s in ex.sources if s.box in index}
    e = flow_emphasis(flows, {k}, sources)
    assert e.shape == (len(flows.paths) + len(flows.joins),)
    lit = {(p.src, p.dst) for p, v in zip(flows.paths, e, strict=False) if v == INTO_FOCUS}
    assert lit == {(index["emb"], k), (index["h.0.attn.proj"], k)}
    join = next(j for j, jn in enumerate(flows.joins) if jn.box == k)
    assert e[len(flows.paths) + join] == INTO_FOCUS
    # far away: dark
    far = index["h.2.mlp.fc"]
    assert all(v == 0 for p, v in zip(flows.paths, e, strict=False) if far in (p.src, p.dst))
    # nothing in focus: nothing lit
    assert not flow_emphasis(flows, (), ()).any()
    # a chain between two sources: half lit
    ln = flow_emphasis(flows, {index["h.0.ln_1.out"]}, {index["emb"], index["h.0.ln_1.mean"]})
    chain = [v for p, v in zip(flows.paths, ln, strict=False) if p.dst == index["h.0.ln_1.mean"]]
    assert chain == [AMONG]


def test_tick_lights_the_paths_of_the_hovered_cell(nano):
    """Through the frame step: a pinned cell's box and its sources light their paths; the
    walkthrough's highlighted boxes do too."""
    from llmviz_desktop.app.tick import Ticker
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.scene.picking import CellHit
    from llmviz_desktop.session.state import AppState

    scene = nano.scene
    state = AppState.create(nano, camera_preset("overview", scene, 640, 360), width=640, height=360)
    ticker = Ticker()
    d = ticker.tick(state, 0.0).drawing
    assert d.flows is not None and d.flow_emphasis is None
    assert ticker.tick(state, 0.0).drawing.flows is d.flows  # built once per scene
    k = scene.index_of["h.0.mlp.residual"]
    state.pointer.pinned = CellHit(k, scene.boxes[k], 0, 0, np.zeros(3), 1.0)
    d = ticker.tick(state, 0.0).drawing
    assert d.flows is not None and d.flow_emphasis is not None
    into = d.flow_emphasis[: len(d.flows.paths)][d.flows.dst == k]
    assert len(into) == 2 and np.all(into == INTO_FOCUS)


def test_opacity_follows_faded_boxes(nano, flows):
    index = nano.scene.index_of
    k = index["h.0.attn.proj"]
    o = flow_opacity(flows, {k: 0.25})
    for p, v in zip(flows.paths, o, strict=False):
        assert v == (0.25 if k in (p.src, p.dst) else 1.0)
    assert np.all(flow_opacity(flows, {}) == 1.0)


def test_instances_one_per_segment_arrowhead_and_join(flows):
    ends, shape, which = flow_instances(flows)
    n = sum(len(p.points) - 1 + 1 for p in flows.paths) + len(flows.joins)
    assert ends.shape == (n, 2, 3) and shape.shape == (n, 4) and which.shape == (n,)
    assert np.count_nonzero(shape[:, 0] == ARROW) == len(flows.paths)
    assert np.count_nonzero(shape[:, 0] == JOIN) == len(flows.joins)
    assert which.max() == len(flows.paths) + len(flows.joins) - 1


@pytest.mark.parametrize("model", ["gpt2", "gpt3"])
def test_shells_get_flows(model):
    """Render-only shells (merged heads for gpt3) and their residual adds."""
    from llmviz_desktop.model.config import preset

    cfg = preset(model)
    scene = build_scene(cfg)
    f = build_flows(scene)
    assert len(f.joins) == 2 * cfg.n_layer + 1
    arriving = set(f.dst.tolist())
    assert all(k in arriving for k, b in enumerate(scene.boxes) if b.kind != "weight" and b.inputs)
    assert all(np.isfinite(p.points).all() for p in f.paths)


def test_a_scene_of_several_models_gets_flows_within_each():
    from llmviz_desktop.session.loaded import load_model

    try:
        scene = load_model("scale").scene
    except Exception as e:  # the scale scene is being built in the same issue
        pytest.skip(f"no scale scene here ({e})")
    f = build_flows(scene)
    for p in f.paths:
        a, b = scene.boxes[p.src].name, scene.boxes[p.dst].name
        assert a.split("/")[0] == b.split("/")[0]  # never from one model into another
    assert len(f.joins) == len(_adds(scene))


@pytest.mark.gl
def test_flows_draw_and_brighten(nano):
    """Rendered with and without flows: the flow pixels appear, are brighter when emphasised,
    and the driver reports no error."""
    from dataclasses import replace

    from llmviz_desktop.app.headless import HeadlessSession
    from llmviz_desktop.scene.camera import Camera
    from llmviz_desktop.session.state import AppState

    W, H = 480, 360
    s = HeadlessSession(W, H)
    try:
        scene = nano.scene
        join = scene.boxes[scene.index_of["h.0.attn.residual"]]
        cam = Camera(target=join.center, distance=220.0, yaw=-30.0, pitch=20.0)
        state = AppState.create(nano, cam, width=W, height=H, show_ui=False, show_labels=False)
        frame = s.ticker.tick(state, 0.0)
        drawing = frame.drawing
        assert drawing.flows is not None

        def draw(d) -> np.ndarray:
            s.target.use()
            s.ui.new_frame()
            s.frame.render(d, lambda: None)
            return s.target.read()[..., :3].astype(int)

        plain = draw(replace(drawing, flows=None))
        shown = draw(drawing)
        lit = draw(replace(drawing, flow_emphasis=np.ones(len(drawing.flows), np.float32)))
        assert s.ctx.error == "GL_NO_ERROR"
        changed = np.abs(shown - plain).sum(axis=2) > 24
        assert changed.sum() > 200  # the paths and joins appear
        brighter = lit.sum(axis=2) - shown.sum(axis=2)
        assert brighter[changed].mean() > 20  # emphasis brightens them
        # the opacity of a faded walkthrough box takes its paths along
        from llmviz_desktop.scene.drawing import Motion

        everything = {k: 0.0 for k in range(len(scene.boxes))}
        gone = draw(replace(drawing, motion=Motion(alpha=everything)))
        none = draw(replace(drawing, flows=None, motion=Motion(alpha=everything)))
        assert np.abs(gone - none).max() <= 2
        assert s.ctx.error == "GL_NO_ERROR"
    finally:
        s.release()
