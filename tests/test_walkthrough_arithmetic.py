"""The arithmetic happens in 3D: the walkthrough's tiles (free-standing numbers), notes
(numbers written in the scene) and strokes carry the trace's own numbers, agree with the side
panel's caption at the same moment, and are pure functions of (chapter, step, progress)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from llmviz_desktop.model import activations as A
from llmviz_desktop.render.scene_renderer import TILE_TEX, apply_motion, box_instances
from llmviz_desktop.scene.drawing import Motion, Note, Tile
from llmviz_desktop.scene.framing import Framing
from llmviz_desktop.scene.labels import place, project_strokes
from llmviz_desktop.walkthrough.animations import DOT_SPANS
from llmviz_desktop.walkthrough.chapters import load_chapters
from llmviz_desktop.walkthrough.timeline import frame_at

W, H = 1280, 720
FRAMING = Framing(W, H)
NUM = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


@pytest.fixture(scope="module")
def chapters():
    return {c.id: c for c in load_chapters().chapters}


def at(chapters, nano, chapter: str, step: int, p: float):
    ch = chapters[chapter]
    return frame_at(ch, step - 1, p, nano, FRAMING, FRAMING.preset("overview", nano.scene))


def texts(frame) -> list[str]:
    return [n.text for n in frame.notes]


def written(frame, prefix: str) -> float:
    """The number at the end of the note that starts with `prefix`."""
    return float(next(t for t in texts(frame) if t.startswith(prefix)).split()[-1])


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 5e-4 * max(1.0, abs(b))


# ---- the single value of a matrix multiply ---------------------------------------------------


def dot_operands(nano, out: str, i: int, t: int):
    """The weight row, the input column and the bias of out[i, t] (drawn orientation)."""
    scene = nano.scene
    w = scene.by_name["h.0.attn.head0.q_weight"].source.matrix(nano.trace, nano.params)[i]
    x = scene.by_name["h.0.ln_1.out"].source.matrix(nano.trace, nano.params)[:, t]
    b = scene.by_name["h.0.attn.head0.q_bias"].source.matrix(nano.trace, nano.params)[i, 0]
    y = scene.by_name[out].source.matrix(nano.trace, nano.params)[i, t]
    return w.astype(float), x.astype(float), float(b), float(y)


def test_dot_product_products_appear_between_input_and_weight_row_with_true_numbers(chapters, nano):
    w, x, b, y = dot_operands(nano, "h.0.attn.head0.q", 0, 5)
    lo, hi = DOT_SPANS["terms"]
    f = at(chapters, nano, "attention", 2, lo + 0.5 * (hi - lo))
    products = [tile for tile in f.tiles if tile.kind == 2]
    inputs = [tile for tile in f.tiles if tile.kind is None]
    assert len(inputs) == 48  # the whole input column lies along the row
    assert 20 <= len(products) <= 26  # about half the products have appeared
    # each product equals x_k * w_k and stands between the input copy and the weight row
    for k, tile in enumerate(products[:-1]):
        assert close(tile.value, x[k] * w[k])
    wbox = nano.scene.by_name["h.0.attn.head0.q_weight"]
    row_y = wbox.cell_center(0, 0)[1]
    assert all(row_y < tile.at[1] for tile in products)
    assert all(tile.at[1] > products[0].at[1] for tile in inputs)
    # the term written in the scene is the one the side panel names, with the same numbers
    term = next(t for t in texts(f) if "×" in t)
    caption = next(c for c in f.caption if c.startswith("term k ="))
    assert term in caption
    k = int(re.match(r"term k = (\d+)", caption).group(1))
    a, bw, prod = (float(v) for v in re.findall(NUM, term)[:3])
    assert close(a, x[k]) and close(bw, w[k]) and close(prod, x[k] * w[k])
    # the running sum in 3D is the caption's running sum, and the partial sum of the trace
    running = next(t for t in texts(f) if t.startswith("Σ of"))
    n_done = int(re.match(r"Σ of (\d+)", running).group(1))
    shown = float(running.split("=")[1])
    assert close(shown, float(x[:n_done] @ w[:n_done]))
    assert any(f"{n_done} terms" in c and running.split("= ")[1] in c for c in f.caption)


def test_dot_product_gathers_adds_the_bias_and_drops_the_traced_value(chapters, nano):
    w, x, b, y = dot_operands(nano, "h.0.attn.head0.q", 0, 5)
    lo, hi = DOT_SPANS["bias"]
    f = at(chapters, nano, "attention", 2, hi - 0.01)
    note = next(t for t in texts(f) if t.startswith("Σ ="))
    total, bias, result = (float(v) for v in re.findall(NUM, note))
    assert close(total, float(x @ w)) and close(bias, b) and close(result, y)
    end = at(chapters, nano, "attention", 2, 1.0)
    assert f"= {result:.4g}" in texts(end)
    assert not end.tiles  # everything has landed
    q = nano.scene.index_of["h.0.attn.head0.q"]
    assert end.reveal.get(q, (1.0, 0))[0] == 1.0  # q was computed in step 1: it stays whole


def test_dot_camera_follows_the_term_and_returns_to_the_operands(chapters, nano):
    lo, hi = DOT_SPANS["terms"]
    early = at(chapters, nano, "attention", 2, lo + 0.15 * (hi - lo)).camera
    late = at(chapters, nano, "attention", 2, lo + 0.85 * (hi - lo)).camera
    assert early.target[0] < late.target[0]  # along the row, left to right
    start_view = at(chapters, nano, "attention", 2, 0.08)
    assert early.distance < start_view.camera.distance  # closer than the operands' view
    end = at(chapters, nano, "attention", 2, 1.0)
    assert end.camera == end.step_camera


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.65, 0.75, 0.85, 1.0])
def test_every_moment_is_a_pure_function_of_progress(chapters, nano, p):
    first = at(chapters, nano, "attention", 2, p)
    at(chapters, nano, "attention", 2, 0.99)  # scrub elsewhere in between
    again = at(chapters, nano, "attention", 2, p)
    assert first.tiles == again.tiles and first.notes == again.notes
    assert first.camera == again.camera and first.caption == again.caption


# ---- streams, aggregates and curves ----------------------------------------------------------


def test_residual_add_merges_two_streams_at_a_plus_with_true_numbers(chapters, nano):
    f = at(chapters, nano, "residual", 1, 0.3)
    assert len(f.ghosts) == 2  # the stream and the attention output, in flight
    assert "+" in texts(f)
    g = at(chapters, nano, "residual", 1, 0.55)
    note = next(t for t in texts(g) if " + " in t and "=" in t)
    a, b, y = (float(v) for v in re.findall(NUM, note))
    tr = nano.trace
    assert close(a, float(tr["emb"][0, 5, 0])) and close(b, float(tr["h.0.attn.proj"][0, 5, 0]))
    assert close(y, float(tr["h.0.attn.residual"][0, 5, 0]))


def test_softmax_writes_max_and_sum_from_the_trace(chapters, nano):
    f = at(chapters, nano, "attention", 3, 0.8)
    tr = nano.trace
    assert close(written(f, "max"), float(tr["h.0.attn.head0.max"][0, 5]))
    assert close(written(f, "Σ e^"), float(tr["h.0.attn.head0.expsum"][0, 5]))
    probs = tr["h.0.attn.head0.probs"][0, 5, :6]
    heaviest = next(t for t in texts(f) if t.startswith("÷ Σ"))
    assert f"key {int(np.argmax(probs))} gets {probs.max():.3f}" in heaviest
    gathering = at(chapters, nano, "attention", 3, 0.37)
    assert 0 < len(gathering.tiles) <= 6  # the query's 6 visible scores fly to the max


def test_layer_norm_column_gathers_into_mean_and_rstd(chapters, nano):
    f = at(chapters, nano, "layer-norm", 2, 0.1)
    assert 0 < len(f.tiles) <= 48
    g = at(chapters, nano, "layer-norm", 2, 0.6)
    tr = nano.trace
    assert close(written(g, "μ"), float(tr["h.0.ln_1.mean"][0, 5]))
    assert close(written(g, "rstd"), float(tr["h.0.ln_1.rstd"][0, 5]))


def test_gelu_curve_carries_the_columns_values_as_points(chapters, nano):
    f = at(chapters, nano, "mlp", 2, 0.5)
    curve = max(f.strokes, key=lambda s: len(s.points))
    assert len(curve.points) > 40 and len(curve.dots) > 20
    note = next(t for t in texts(f) if t.startswith("gelu("))
    x, y = (float(v) for v in re.findall(NUM, note))
    fc = nano.trace["h.0.mlp.fc"][0, 5]
    gelu = nano.trace["h.0.mlp.gelu"][0, 5]
    k = int(np.argmin(np.abs(fc - x)))
    assert close(y, float(gelu[k]))
    # the points lie on the drawn curve: same place as the curve's own point at that x
    pts = np.array(curve.points)
    dots = np.array(curve.dots)
    for d in dots[:10]:
        near = pts[np.argsort(np.abs(pts[:, 0] - d[0]))[:2]]
        assert abs(d[1] - near[:, 1].mean()) < 0.1 * np.ptp(pts[:, 1]) + 1e-9


def test_weighted_sum_flies_each_value_column_with_its_weight(chapters, nano):
    f = at(chapters, nano, "attention", 4, 0.4)
    assert f.ghosts
    weights = [t for t in texts(f) if t.startswith("×")]
    probs = nano.trace["h.0.attn.head0.probs"][0, 5, :6]
    assert weights and all(
        float(w.split()[-1]) in {round(float(v), 2) for v in probs} for w in weights
    )


def test_probability_bars_stand_beside_the_vocabulary(chapters, nano):
    f = at(chapters, nano, "sampling", 2, 0.52)  # grown, the choice not yet falling
    bars = [tile for tile in f.tiles if tile.size[0] != 1.0 or tile.kind == 2]
    assert len(bars) == 3
    probs = nano.trace[A.PROBS.name()][0, f.t]
    lengths = sorted(b.size[0] for b in bars)
    box = nano.scene.by_name[A.PROBS.name()]
    full = min(16.0, max(0.6 * box.size[0], 0.3 * box.size[1]))
    assert np.allclose(sorted(lengths), sorted(np.maximum(full * probs, 0.05)), atol=1e-6)
    labels = [t for t in texts(f) if t[:1] in "ABC"]
    assert sorted(t[0] for t in labels) == ["A", "B", "C"]


def test_the_chosen_letter_drops_from_its_bar_into_the_output_row(chapters, nano):
    chosen = nano.output_text[0]
    falling = at(chapters, nano, "sampling", 2, 0.65)
    assert chosen in texts(falling)
    end = at(chapters, nano, "sampling", 2, 1.0)
    assert f"chosen: {chosen}" in texts(end)
    growing = at(chapters, nano, "sampling", 2, 0.1)
    grown = at(chapters, nano, "sampling", 2, 0.52)
    assert max(t.size[0] for t in growing.tiles) < max(t.size[0] for t in grown.tiles)


def test_the_loop_writes_the_flying_letter(chapters, nano):
    f = at(chapters, nano, "autoregressive", 2, 0.9 / 6)  # first generation, in flight
    letter = nano.output_text[0]
    assert f.ghosts and letter in texts(f)


# ---- drawing the primitives ------------------------------------------------------------------


def test_tiles_become_one_cell_instances_carrying_their_value(nano):
    scene = nano.scene
    inst = box_instances(scene)
    origins = inst["origin"].astype(np.float64)
    tiles = [
        Tile((1.0, 2.0, 3.0), 0.25, 0),
        Tile((0.0, 0.0, 0.0), -2.0, 1, (4.0, 1.0, 1.0), 2, 0.5),
    ]
    out, where = apply_motion(inst, origins, Motion(tiles=tiles))
    assert len(out) == len(inst) + 2
    a, b = out[-2], out[-1]
    assert a["tex"][0] == TILE_TEX and a["anim"][3] == 0.25
    assert tuple(a["style"][:1]) == tuple(inst[0]["style"][:1])
    assert np.allclose(where[-2], np.array((1.0, 2.0, 3.0)) - 0.5)
    assert b["style"][0] == 2 and b["style"][2] == 0.5 and tuple(b["size"]) == (4.0, 1.0, 1.0)


def test_notes_are_placed_first_and_never_overlap_each_other_or_panels(chapters, nano):
    f = at(chapters, nano, "attention", 3, 0.8)
    panels = ((0.0, 0.0, 300.0, 720.0),)
    notes = [*f.notes, Note("crowd", f.notes[0].at), Note("crowd 2", f.notes[0].at)]
    placed = place(nano.scene, f.camera, W, H, panels=panels, notes=notes)
    written = [lab for lab in placed.labels if lab.kind in ("note", "result")]
    assert len(written) >= len(f.notes)
    rects = [lab.rect for lab in written]
    for n, r in enumerate(rects):
        assert r[0] >= 300.0
        for s in rects[n + 1 :]:
            assert r[2] <= s[0] or s[2] <= r[0] or r[3] <= s[1] or s[3] <= r[1]


def test_strokes_project_to_pixels(chapters, nano):
    f = at(chapters, nano, "mlp", 2, 0.5)
    drawn = project_strokes(f.strokes, f.camera, W, H)
    curve = max(drawn, key=lambda d: len(d[1]))
    assert curve[1].shape[1] == 2 and len(curve[2]) == len(
        max(f.strokes, key=lambda s: len(s.points)).dots
    )


def test_glow_lights_the_named_parts_in_turn_and_writes_beside_them(chapters, nano):
    early = at(chapters, nano, "layer-norm", 4, 0.05)
    late = at(chapters, nano, "layer-norm", 4, 1.0)
    lns = [k for k, b in enumerate(nano.scene.boxes) if b.name.endswith(("ln_1.out", "ln_2.out"))]
    lns.append(nano.scene.index_of["ln_f.out"])
    lit_late = {h.box for h in late.cells}
    assert set(lns) <= lit_late and len(texts(late)) == len(lns) == 7
    assert len({h.box for h in early.cells}) < len(lns)
    assert all(t == "layer norm" for t in texts(late))


def test_walkthrough_titles_only_the_steps_own_tensors(chapters, nano):
    from llmviz_desktop.scene.labels import place

    f = at(chapters, nano, "layer-norm", 2, 0.5)
    names = {nano.scene.boxes[k].name for k in f.highlight}
    placed = place(nano.scene, f.camera, W, H, focus=sorted(names), context_titles=False)
    titled = {lab.box for lab in placed.labels if lab.kind in ("title", "focus")}
    assert titled and titled <= names
    everything = place(nano.scene, f.camera, W, H, focus=sorted(names))
    assert len([lab for lab in everything.labels if lab.kind == "title"]) > 0


def test_same_letter_lights_its_columns_and_shows_the_embeddings_differ(chapters, nano):
    f = at(chapters, nano, "embedding", 3, 1.0)
    tokens = nano.trace.tokens[0]
    same = [j for j in range(len(nano.input_text)) if tokens[j] == tokens[f.t]]
    assert len(same) >= 2
    tok = nano.scene.index_of["tok_emb"]
    lit = {h.col0 for h in f.cells if h.box == tok}
    assert lit == set(same)
    note = next(t for t in texts(f) if t.startswith("first numbers"))
    shown = [float(v) for v in re.findall(NUM, note)]
    emb = nano.trace["emb"][0]
    assert all(close(v, float(emb[j, 0])) for v, j in zip(shown, same, strict=True))
    assert len(set(shown)) == len(shown)  # same token, different place: different numbers


def test_a_step_on_another_models_scene_cuts_to_its_own_camera(chapters, nano):
    """The scale chapter moves between scenes (gpt3's shell, then the scale scene): a camera
    from the previous scene means nothing in the next, so the step starts on its own camera
    instead of flying across empty space."""
    from llmviz_desktop.session.stage import Stage
    from llmviz_desktop.walkthrough.chapters import load_chapters
    from llmviz_desktop.walkthrough.player import Player

    loaded = load_chapters()
    index = [c.id for c in loaded.chapters].index("scale")
    chapter = loaded.chapters[index]
    stage = Stage()
    player = Player(loaded, chapter_index=index, active=True)
    for k in range(1, len(chapter.steps)):
        before, here = chapter.steps[k - 1], chapter.steps[k]
        if (before.model or chapter.model) == (here.model or chapter.model):
            continue
        player.goto_step(k, 0.0)
        _, start = stage.moment(player, nano, FRAMING)
        assert start is not None and start.camera == start.step_camera, here.title


def test_token_rows_write_ids_and_positions_under_their_slots(chapters, nano):
    ids = at(chapters, nano, "tokens", 1, 1.0)
    tokens = [str(int(v)) for v in nano.trace.tokens[0]]
    assert texts(ids) == tokens
    positions = at(chapters, nano, "tokens", 2, 1.0)
    assert texts(positions) == [str(j) for j in range(len(tokens))]
    half = at(chapters, nano, "tokens", 1, 0.5)  # only the slots filled so far
    assert 0 < len(texts(half)) < len(tokens)
