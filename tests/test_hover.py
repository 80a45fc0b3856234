"""Hover: picking the cell under the cursor, the tooltip's numbers, highlights, headless --hover."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import llmviz

from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.scene.picking import pick_cell

W, H = 1280, 720


def reference_pick(scene, eye, d, wpp_at_1):
    """Independent: intersect the ray with the 6 face planes of every box, keep the nearest
    point that lies on a face; the cell is floor() of the local coordinates (clamped). Boxes
    narrower than 1.5 px (at their nearest point) count as 1.5 px wide, as they are drawn."""
    best = None
    for box in scene.boxes:
        ox, oy, oz = box.origin
        w, h, dep = box.size
        lo = np.array([ox, oy - h, oz - dep])
        hi = np.array([ox + w, oy, oz])
        dist = np.linalg.norm(np.clip(eye, lo, hi) - eye)
        min_size = 1.5 * wpp_at_1 * max(dist, 1e-3)
        for a in range(3):
            if hi[a] - lo[a] < min_size:
                mid = (hi[a] + lo[a]) / 2
                lo[a], hi[a] = mid - min_size / 2, mid + min_size / 2
        for axis in range(3):
            if d[axis] == 0:
                continue
            for plane in (lo[axis], hi[axis]):
                t = (plane - eye[axis]) / d[axis]
                if t <= 0 or (best is not None and t >= best[0]):
                    continue
                p = eye + t * d
                others = [a for a in range(3) if a != axis]
                eps = 1e-9 * max(1.0, np.abs(p).max())
                if all(lo[a] - eps <= p[a] <= hi[a] + eps for a in others):
                    best = (t, box, p)
    if best is None:
        return None
    _, box, p = best
    col = int(np.floor((p[0] - box.origin[0]) / (box.size[0] / box.cols)))
    row = int(np.floor((box.origin[1] - p[1]) / (box.size[1] / box.rows)))
    return box.name, min(max(row, 0), box.rows - 1), min(max(col, 0), box.cols - 1)


CAMERAS = [
    ("overview", None),
    ("attention", Camera(target=(60.0, -290.0, 0.0), distance=260.0, yaw=-12.0, pitch=6.0)),
    ("oblique", Camera(target=(0.0, -120.0, 0.0), distance=90.0, yaw=-55.0, pitch=35.0)),
    ("close", Camera(target=(0.0, -30.0, 0.0), distance=25.0, yaw=8.0, pitch=-4.0)),
]


@pytest.mark.parametrize("name, cam", CAMERAS)
def test_picked_cell_matches_an_independent_ray_box_computation(nano, name, cam):
    scene = nano.scene
    cam = cam or camera_preset("overview", scene, W, H)
    hits = 0
    rng = np.random.default_rng(1)
    grid = [(x, y) for x in np.linspace(3, W - 3, 23) for y in np.linspace(3, H - 3, 13)]
    aimed = []  # pixels over random points of random boxes' front faces
    for k in rng.choice(len(scene.boxes), 60, replace=False):
        box = scene.boxes[k]
        ox, oy, oz = box.origin
        world = [ox + rng.random() * box.size[0], oy - rng.random() * box.size[1], oz]
        px, py, depth = cam.project(world, W, H)[0]
        if depth > 0 and 0 <= px < W and 0 <= py < H:
            aimed.append((px, py))
    for x, y in grid + aimed:
        got = pick_cell(scene, cam, x, y, W, H)
        want = reference_pick(scene, *cam.ray(x, y, W, H), cam.world_per_pixel(H, 1.0))
        if want is None:
            assert got is None, (x, y)
            continue
        hits += 1
        assert (got.box.name, got.row, got.col) == want, (x, y)
    assert hits > 10


def test_picking_is_exact_on_both_sides_of_a_cell_edge(nano):
    """Aim just left/right and above/below a cell boundary at a steep angle."""
    box = nano.scene.by_name["h.0.mlp.c_fc.weight"]
    cam = Camera(
        target=(box.origin[0] + 20, box.origin[1] - 60, 0.0), distance=40.0, yaw=-35.0, pitch=25.0
    )
    ox, oy, oz = box.origin
    for col_edge, row_edge in [(10, 40), (11, 41), (30, 70)]:
        for dx, dy, want in [
            (-1e-4, 0.5, (row_edge, col_edge - 1)),
            (1e-4, 0.5, (row_edge, col_edge)),
            (0.5, -1e-4, (row_edge - 1, col_edge)),
            (0.5, 1e-4, (row_edge, col_edge)),
        ]:
            world = np.array([ox + col_edge + dx, oy - row_edge - dy, oz])
            x, y, _ = cam.project(world, W, H)[0]
            hit = pick_cell(nano.scene, cam, x, y, W, H)
            assert hit is not None and hit.box.name == box.name
            assert (hit.row, hit.col) == want, (col_edge, row_edge, dx, dy)


def test_gpt3_shell_picks_what_is_drawn(gpt3):
    """At the overview every box is far below a pixel; the renderer draws it 1.5 px wide and
    picking grows it the same way, so pointing at the drawn tower finds a tensor."""
    cam = camera_preset("overview", gpt3.scene, W, H)
    centres = np.array([b.center for b in gpt3.scene.boxes[::37]])
    found = 0
    for x, y, _ in cam.project(centres, W, H):
        hit = pick_cell(gpt3.scene, cam, x, y, W, H)
        assert hit is not None, (x, y)
        assert 0 <= hit.row < hit.box.rows and 0 <= hit.col < hit.box.cols
        found += 1
    assert found > 50


def test_empty_space_picks_nothing(nano):
    cam = camera_preset("overview", nano.scene, W, H)
    assert pick_cell(nano.scene, cam, W - 5, H / 2, W, H) is None
    assert pick_cell(nano.scene, cam, 5, H - 5, W, H) is None


def cell_pixel(model, box_name: str, i: int, j: int, cam: Camera):
    box = model.scene.by_name[box_name]
    ox, oy, oz = box.origin
    world = np.array([ox + j + 0.5, oy - i - 0.5, oz])
    x, y, _ = cam.project(world, W, H)[0]
    return x, y


def render_report(tmp_path, *args):
    out, report = tmp_path / "shot.png", tmp_path / "report.json"
    result = llmviz(
        "render", "--out", str(out), "--report", str(report), "--size", f"{W}x{H}", *args
    )
    assert result.returncode == 0, result.stderr
    return json.loads(report.read_text()), out


@pytest.mark.gl
@pytest.mark.parametrize(
    "box_name, i, j",
    [
        ("h.1.mlp.c_fc.weight", 12, 30),
        ("h.0.attn.head1.q", 3, 4),
        ("h.2.mlp.gelu", 100, 7),
        ("h.0.attn.head0.scores", 5, 2),
        ("logits", 1, 9),
    ],
)
def test_headless_hover_reports_the_cell_and_its_formula(nano, tmp_path, box_name, i, j):
    box = nano.scene.by_name[box_name]
    cx, cy, cz = box.cell_center(i, j)
    cam = Camera(target=(cx, cy, box.origin[2]), distance=30.0, yaw=-6.0, pitch=4.0)
    x, y = cell_pixel(nano, box_name, i, j, cam)
    report, _ = render_report(
        tmp_path, "--camera", json.dumps(cam.to_dict()), "--hover", f"{x},{y}"
    )
    hover = report["hover"]
    assert hover["tensor"] == box_name and hover["cell"] == [i, j]
    drawn = float(box.source.matrix(nano.trace, nano.params)[i, j])
    value = hover["value"]
    if isinstance(value, str):  # masked score: -inf
        assert value == "-inf" and drawn == -np.inf
    else:
        assert value == drawn
        assert hover["recomputed"] == pytest.approx(drawn, rel=1e-4, abs=1e-6)
    assert hover["formula"] and hover["lines"]


@pytest.mark.gl
def test_headless_hover_on_empty_space_reports_nothing(tmp_path):
    report, _ = render_report(tmp_path, "--hover", f"{W - 5},{H - 5}")
    assert report["hover"] is None


def test_hover_outside_the_image_is_refused(tmp_path):
    result = llmviz("render", "--out", str(tmp_path / "a.png"), "--hover", "5000,10", timeout=60)
    assert result.returncode == 2 and "outside" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.gl
def test_tooltip_and_highlights_are_drawn(nano, tmp_path):
    """The image with --hover differs from the plain one near the cursor (tooltip) and at the
    source cells (highlights), and nowhere else much."""
    from PIL import Image

    box = nano.scene.by_name["h.0.attn.head0.q"]
    cx, cy, _ = box.cell_center(2, 3)
    cam = Camera(target=(cx + 30, cy - 10, box.origin[2]), distance=120.0)
    x, y = cell_pixel(nano, "h.0.attn.head0.q", 2, 3, cam)
    camera = json.dumps(cam.to_dict())
    _, plain = render_report(tmp_path, "--camera", camera)
    plain_img = np.asarray(Image.open(plain)).astype(int)
    report, hovered = render_report(tmp_path, "--camera", camera, "--hover", f"{x},{y}")
    hovered_img = np.asarray(Image.open(hovered)).astype(int)
    changed = np.abs(hovered_img - plain_img).sum(axis=-1) > 30
    tooltip = changed[int(y) + 20 : int(y) + 120, int(x) + 20 : int(x) + 220]
    assert tooltip.mean() > 0.25  # a tooltip window right-below the cursor (dark, with text)
    assert report["hover"]["tensor"] == "h.0.attn.head0.q"


@pytest.mark.gl
def test_hovering_a_title_shows_shape_and_parameter_count(nano, tmp_path):
    from llmviz_desktop.scene.labels import place_labels

    cam = Camera(target=(-40.0, -1200.0, 0.0), distance=260.0)
    labels = [lb for lb in place_labels(nano.scene, cam, W, H) if lb.kind == "title"]
    label = next(lb for lb in labels if nano.scene.by_name[lb.box].kind == "weight")
    x, y = label.x + 2 * label.size, label.y - label.size / 2  # inside the title text
    report, _ = render_report(
        tmp_path, "--camera", json.dumps(cam.to_dict()), "--hover", f"{x},{y}"
    )
    box = nano.scene.by_name[label.box]
    assert report["hover"] is None  # a title, not a cell
    title = report["title_hover"]
    assert title["tensor"] == label.box and title["shape"] == [box.rows, box.cols]
    assert title["count"] == box.rows * box.cols


def test_a_pin_is_dropped_when_its_scene_goes_and_kept_when_only_numbers_change(nano, gpt3):
    """A cell pinned on GPT-3 and then a walkthrough step (or training) that shows nano-sort:
    the pin's box index means nothing there, so the tooltip is dropped, not read from another
    tensor (or past the end of the box list). New weights in the same layout keep it."""
    from llmviz_desktop.app.tick import Ticker
    from llmviz_desktop.scene.picking import CellHit
    from llmviz_desktop.session.loaded import with_params
    from llmviz_desktop.session.state import AppState

    index = max(range(len(gpt3.scene.boxes)), key=lambda i: gpt3.scene.boxes[i].rows)
    box = gpt3.scene.boxes[index]
    assert index >= len(nano.scene.boxes) or nano.scene.boxes[index].rows < box.rows
    state = AppState.create(gpt3, camera_preset("overview", gpt3.scene, W, H), width=W, height=H)
    state.pointer.pinned = CellHit(index, box, box.rows - 1, 0, np.zeros(3), 1.0)
    ticker = Ticker()  # the window's frame step, which drops a pin that lost its scene
    assert ticker.tick(state, 0.0).hover is not None
    state.home = nano
    assert ticker.tick(state, 0.0).hover is None and state.pointer.pinned is None

    box = nano.scene.by_name["probs"]
    index = nano.scene.boxes.index(box)
    state.pointer.pinned = CellHit(index, box, 0, 1, np.zeros(3), 1.0)
    before = ticker.tick(state, 0.0).hover
    params = {k: v * 0.5 for k, v in nano.params.items()}
    state.home = with_params(nano, params)
    after = ticker.tick(state, 0.0).hover
    assert state.pointer.pinned is not None and after is not None
    assert after.hit.box.name == "probs" and (after.hit.row, after.hit.col) == (0, 1)
    assert before is not None
