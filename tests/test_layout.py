"""The layout: one box per tensor, placed without overlaps, in computation order, showing
exactly the trace's and the weights' numbers."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import llmviz_desktop.scene.layout as layout_pkg
from llmviz_desktop.model.config import PRESETS, GPTConfig
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params, param_specs
from llmviz_desktop.model.tokenizer import CharTokenizer
from llmviz_desktop.model.weights import resolve_model
from llmviz_desktop.scene.build import box_depth, head_pitch
from llmviz_desktop.scene.camera import Camera
from llmviz_desktop.scene.layout import (
    KINDS,
    MERGE_HEADS_ABOVE,
    SHELL_MAX_TOKENS,
    Scene,
    TensorBox,
    ValueSource,
    build_scene,
)

INPUT = "CBABBC"
GROUPS = {"embedding", "ln_1", "attention", "projection", "ln_2", "mlp", "ln_f", "output"}
LAYER_GROUPS = ("ln_1", "attention", "projection", "ln_2", "mlp")  # top to bottom
# a small model with more heads than MERGE_HEADS_ABOVE, cheap enough to run
WIDE = GPTConfig(name="wide", n_layer=2, n_head=16, n_embd=32, vocab_size=5, block_size=8)


@pytest.fixture(scope="module")
def nano():
    cfg, params = resolve_model("nano-sort")
    assert params is not None
    trace = forward(cfg, params, CharTokenizer(cfg.vocab).encode(INPUT))
    return cfg, params, trace, build_scene(cfg, trace, params)


@pytest.fixture(scope="module")
def shells() -> dict[str, Scene]:
    return {name: build_scene(cfg) for name, cfg in PRESETS.items()}


@pytest.fixture(scope="module")
def wide():
    params = init_params(WIDE, seed=0)
    trace = forward(WIDE, params, np.array([1, 4, 0, 2, 3]))
    return params, trace, build_scene(WIDE, trace, params)


def all_scenes(nano, shells, wide) -> dict[str, Scene]:
    # one token: the head dim is taller than the score matrices (the k / v side sets the bands)
    one_token = {
        f"{name} T=1": build_scene(PRESETS[name], n_tokens=1) for name in ("nano-sort", "gpt2")
    }
    return {"nano-sort+trace": nano[3], "wide+trace": wide[2], **shells, **one_token}


# ---- helpers --------------------------------------------------------------------------------


def overlapping_pairs(scene: Scene) -> list[tuple[str, str]]:
    """Pairs of boxes whose AABBs intersect with positive volume."""
    bb = scene.aabbs()
    lo, hi = bb[:, 0], bb[:, 1]
    pairs = []
    for start in range(0, len(bb), 512):
        a_lo, a_hi = lo[start : start + 512, None], hi[start : start + 512, None]
        hit = np.all((a_lo < hi[None]) & (lo[None] < a_hi), axis=-1)  # [chunk, N]
        for a, b in zip(*np.nonzero(hit), strict=True):
            if start + a < b:
                pairs.append((scene.boxes[start + a].name, scene.boxes[b].name))
    return pairs


def top(box: TensorBox) -> float:
    return box.max_corner[1]


def bottom(box: TensorBox) -> float:
    return box.min_corner[1]


def left(box: TensorBox) -> float:
    return box.min_corner[0]


def right(box: TensorBox) -> float:
    return box.max_corner[0]


def expected_drawn(trace, name: str) -> np.ndarray:
    """The trace tensor as the layout promises to draw it, derived here independently:
    batch row 0, features as rows and tokens as columns; [T] aggregates as one row."""
    value = trace[name]
    if trace.axes(name)[0] == "B":
        value = value[0]
    return value[None, :] if value.ndim == 1 else value.T


def assert_param_coverage(scene: Scene, params) -> None:
    """Every cell of every parameter drawn exactly once, with its exact value."""
    counts = {key: np.zeros(np.shape(value), dtype=np.int64) for key, value in params.items()}
    for box in scene.boxes:
        src = box.source
        if src is None or src.store != "param":
            continue
        if box.name == "lm_head.weight" and src.key == "wte.weight":
            continue  # a tied unembedding re-draws wte, already counted by the embedding
        m = src.matrix(None, params)
        arr = np.asarray(params[src.key])
        assert m.shape == box.shape, box.name
        for i in range(box.rows):
            for j in range(box.cols):
                idx = src.index(i, j)
                counts[src.key][idx] += 1
                assert arr[idx] == m[i, j], (box.name, i, j)
    for key, c in counts.items():
        assert c.min() == 1 and c.max() == 1, f"{key}: cells drawn {c.min()}..{c.max()} times"


def assert_trace_coverage(scene: Scene, trace, params) -> None:
    for name in trace.names():
        hits = [b for b in scene.boxes if b.source and b.source.store == "trace"]
        hits = [b for b in hits if b.source is not None and b.source.key == name]
        assert len(hits) == 1, f"{name}: {len(hits)} boxes"
        (box,) = hits
        assert box.name == name
        assert box.source is not None
        m = box.source.matrix(trace, params)
        assert m.dtype == np.float32 and m.shape == box.shape
        np.testing.assert_array_equal(m, expected_drawn(trace, name), strict=True)
    keys = {b.source.key for b in scene.boxes if b.source and b.source.store == "trace"}
    assert keys == set(trace.names())


# ---- the shipped nano-sort model with a trace -----------------------------------------------


def test_every_trace_tensor_has_exactly_one_box_with_its_exact_values(nano):
    cfg, params, trace, scene = nano
    assert_trace_coverage(scene, trace, params)
    assert scene.n_tokens == len(INPUT) and scene.heads_merged == 1


def test_index_agrees_with_matrix_for_a_sample_of_cells(nano):
    cfg, params, trace, scene = nano
    rng = np.random.default_rng(0)
    checked = 0
    for box in scene.boxes:
        assert box.source is not None, box.name  # every box of a traced model has values
        m = box.source.matrix(trace, params)
        arr = np.asarray(box.source.array(trace, params))
        cells = {(0, 0), (box.rows - 1, box.cols - 1), (0, box.cols - 1), (box.rows - 1, 0)}
        cells |= {(int(rng.integers(box.rows)), int(rng.integers(box.cols))) for _ in range(12)}
        for i, j in cells:
            assert arr[box.source.index(i, j)] == m[i, j], (box.name, i, j)
            checked += 1
    assert checked > 1000


def test_every_parameter_is_drawn_exactly_once(nano):
    cfg, params, trace, scene = nano
    assert_param_coverage(scene, params)


def test_head_slices_of_c_attn(nano):
    cfg, params, trace, scene = nano
    C, D = cfg.n_embd, cfg.head_dim
    W, b = params["h.1.attn.c_attn.weight"], params["h.1.attn.c_attn.bias"]
    for part, letter in enumerate("qkv"):
        lo = part * C + 2 * D
        w_box = scene.by_name[f"h.1.attn.head2.{letter}_weight"]
        b_box = scene.by_name[f"h.1.attn.head2.{letter}_bias"]
        assert w_box.source is not None and b_box.source is not None
        np.testing.assert_array_equal(w_box.source.matrix(trace, params), W[:, lo : lo + D].T)
        np.testing.assert_array_equal(b_box.source.matrix(trace, params), b[lo : lo + D, None])
        assert (w_box.row_axis, w_box.col_axis) == ("D", "C")
        assert (w_box.layer, w_box.head, w_box.heads_merged) == (1, 2, 1)
    assert scene.by_name["h.1.attn.head2.q"].title == "Layer 2 · head 3 · queries"


def test_token_rows(nano):
    cfg, params, trace, scene = nano
    inp, out = scene.by_name["input_tokens"], scene.by_name["output_tokens"]
    assert inp.kind == out.kind == "token" and inp.shape == out.shape == (1, len(INPUT))
    assert inp.source is not None and out.source is not None
    np.testing.assert_array_equal(inp.source.matrix(trace, params)[0], trace.tokens[0])
    predicted = np.argmax(trace["probs"][0], axis=-1)
    np.testing.assert_array_equal(out.source.matrix(trace, params)[0], predicted)
    assert scene.boxes[0] is inp and scene.boxes[-1] is out


def test_masked_scores_are_the_lower_left_triangle(nano):
    cfg, params, trace, scene = nano
    box = scene.by_name["h.0.attn.head0.scores"]
    assert (box.row_axis, box.col_axis) == ("T_k", "T")
    assert box.source is not None
    m = box.source.matrix(trace, params)  # cell (i, j): query j, key i
    T = len(INPUT)
    i, j = np.indices((T, T))
    assert np.all(np.isneginf(m[i > j])) and np.all(np.isfinite(m[i <= j]))


def test_linear_layers_are_laid_out_the_classic_way(nano):
    """W^T left of y with rows aligned, the bias between them, the input above y in the same
    columns: cell y[r, t] is where row r of W^T meets column t of x."""
    cfg, params, trace, scene = nano
    S = scene.by_name
    linears = [
        ("wte.weight", None, None, "tok_emb"),
        ("lm_head.weight", None, "ln_f.out", "logits"),
    ]
    for i in range(cfg.n_layer):
        p = f"h.{i}"
        linears += [
            (f"{p}.mlp.c_fc.weight", f"{p}.mlp.c_fc.bias", f"{p}.ln_2.out", f"{p}.mlp.fc"),
            (f"{p}.mlp.c_proj.weight", f"{p}.mlp.c_proj.bias", f"{p}.mlp.gelu", f"{p}.mlp.proj"),
            (f"{p}.attn.c_proj.weight", f"{p}.attn.c_proj.bias", None, f"{p}.attn.proj"),
        ]
        for h in range(cfg.n_head):
            # every head's k and v sit under ln_1.out (heads stand one behind another in z)
            hp = f"{p}.attn.head{h}"
            linears += [(f"{hp}.q_weight", f"{hp}.q_bias", None, f"{hp}.q")]
            ln_1 = f"{p}.ln_1.out"
            linears += [(f"{hp}.{x}_weight", f"{hp}.{x}_bias", ln_1, f"{hp}.{x}") for x in "kv"]
    # the token row stands for the one-hot input of the embedding lookup
    tokens, tok_emb = S["input_tokens"], S["tok_emb"]
    assert left(tokens) == left(tok_emb) and tokens.cols == tok_emb.cols
    assert bottom(tokens) > top(tok_emb)
    for w_name, b_name, x_name, y_name in linears:
        w, y = S[w_name], S[y_name]
        assert w.rows == y.rows and top(w) == top(y), (w_name, y_name)
        assert w.origin[2] == y.origin[2], (w_name, y_name)  # weights at their product's depth
        assert right(w) < left(y)
        if b_name is not None:
            b = S[b_name]
            assert b.cols == 1 and b.rows == y.rows and top(b) == top(y)
            assert right(w) < left(b) and right(b) < left(y)
        if x_name is not None:
            x = S[x_name]
            assert x.rows == w.cols, (w_name, x_name)
            assert x.cols == y.cols and left(x) == left(y) and bottom(x) > top(y)
            r, t, c = y.rows - 1, y.cols - 1, w.cols // 2
            assert y.cell_center(r, t)[1] == w.cell_center(r, c)[1]
            assert y.cell_center(r, t)[0] == x.cell_center(c, t)[0]


def test_attention_geometry(nano):
    """Per head: q above scores, max, expsum, probs and out in the same columns; k left of
    scores and v left of out with tops aligned; every q/k/v below-right of ln_1.out."""
    cfg, params, trace, scene = nano
    S = scene.by_name
    for i in range(cfg.n_layer):
        ln = S[f"h.{i}.ln_1.out"]
        for h in range(cfg.n_head):
            p = f"h.{i}.attn.head{h}"
            column = [S[f"{p}.{n}"] for n in ("q", "scores", "max", "expsum", "probs", "out")]
            for upper, lower in zip(column, column[1:], strict=False):
                assert left(upper) == left(lower) and upper.cols == lower.cols
                assert bottom(upper) > top(lower), (upper.name, lower.name)
            for operand, result in (("k", "scores"), ("v", "out")):
                a, r = S[f"{p}.{operand}"], S[f"{p}.{result}"]
                assert top(a) == top(r) and right(a) < left(r)
            assert S[f"{p}.max"].shape == S[f"{p}.expsum"].shape == (1, len(INPUT))
            for x in "qkv":
                box = S[f"{p}.{x}"]
                assert left(box) >= left(ln) and top(box) < bottom(ln)
        # heads one behind another in depth, in order, head 0 on the spine's front face;
        # each head's boxes all at its depth, and the same x and y as head 0's
        front = S[f"h.{i}.ln_1.out"].origin[2]
        pitch = head_pitch(cfg) * scene.cell
        for h in range(cfg.n_head):
            p = f"h.{i}.attn.head{h}"
            mine = [b for b in scene.layer_boxes(i) if b.name.startswith(p + ".")]
            assert len(mine) == 14  # q, k, v with weights and biases; scores .. out
            for box in mine:
                assert box.origin[2] == front - h * pitch, box.name
                twin = S[box.name.replace(f"head{h}.", "head0.")]
                assert box.origin[:2] == twin.origin[:2] and box.size == twin.size
        assert pitch > S[f"h.{i}.attn.head0.q"].size[2]  # a gap between neighbours


def projected_widths(scene: Scene, pitch: float = 0.0, perspective: bool = True) -> list[float]:
    """The model's width on screen (pixels, 1280x720) seen from yaw 0, 15 .. 180 degrees at
    one pitch, one target (the bounds' centre) and one distance (5x the bounds' diagonal):
    the spread of the projected corners of every box."""
    bb = scene.aabbs()
    corners = np.stack(
        [
            np.stack([bb[:, i, 0], bb[:, j, 1], bb[:, k, 2]], -1)
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ],
        1,
    ).reshape(-1, 3)
    lo, hi = np.array(scene.bounds[0]), np.array(scene.bounds[1])
    target, distance = (lo + hi) / 2, 5 * float(np.linalg.norm(hi - lo))
    widths = []
    for yaw in range(0, 181, 15):
        cam = Camera(target=tuple(target), distance=distance, yaw=float(yaw), pitch=pitch)
        if perspective:
            x = cam.project(corners, 1280, 720)[:, 0]
        else:
            x = corners @ cam.right()
        widths.append(float(x.max() - x.min()))
    return widths


def test_the_model_has_width_seen_from_every_side(nano):
    """A 3D object, not a sheet: seen from any side (yaw 0..180 in 15 degree steps, pitch 0,
    the same target and distance) its width never falls below a quarter of its widest."""
    scene = nano[3]
    for perspective in (True, False):
        widths = projected_widths(scene, perspective=perspective)
        assert min(widths) >= 0.25 * max(widths), (perspective, widths)


def test_traced_scene_matches_the_shell_with_the_same_token_count(nano):
    cfg, params, trace, scene = nano
    shell = build_scene(cfg, n_tokens=len(INPUT))
    assert [b.name for b in shell.boxes] == [b.name for b in scene.boxes]
    for a, b in zip(shell.boxes, scene.boxes, strict=True):
        assert (a.origin, a.size, a.title, a.kind) == (b.origin, b.size, b.title, b.kind)
        assert a.source is None
    # weights only: weight boxes have values, intermediates do not
    half = build_scene(cfg, None, params, n_tokens=len(INPUT))
    for box in half.boxes:
        assert (box.source is not None) == (box.kind == "weight"), box.name
    assert_param_coverage(half, params)


# ---- every scene: nano-sort (traced), a 16-head model (traced), every preset as a shell -----


def test_no_two_boxes_overlap(nano, shells, wide):
    for name, scene in all_scenes(nano, shells, wide).items():
        assert overlapping_pairs(scene) == [], name


def test_box_size_is_proportional_to_shape(nano, shells, wide):
    for name, scene in all_scenes(nano, shells, wide).items():
        cell = scene.cell
        for box in scene.boxes:
            assert box.rows >= 1 and box.cols >= 1, box.name
            depth = box_depth(scene.config) * cell  # every box equally deep, > 1 cell
            assert box.size == (box.cols * cell, box.rows * cell, depth), (name, box.name)
            assert depth > cell
            assert box.kind in KINDS and box.group in GROUPS and box.heads_merged >= 1
            assert box.row_axis and box.col_axis
        lo, hi = scene.bounds
        bb = scene.aabbs()
        assert np.allclose(bb[:, 0].min(0), lo) and np.allclose(bb[:, 1].max(0), hi)
        assert len(scene.by_name) == len(scene.boxes)


def test_computation_flows_down(nano, shells, wide):
    for name, scene in all_scenes(nano, shells, wide).items():
        n_layer = scene.config.n_layer
        bands = [[b for b in scene.boxes if b.group == "embedding"]]
        bands += [scene.layer_boxes(i) for i in range(n_layer)]
        bands += [[b for b in scene.boxes if b.group in ("ln_f", "output")]]
        assert sum(map(len, bands)) == len(scene.boxes)
        for upper, lower in zip(bands, bands[1:], strict=False):
            assert max(map(top, lower)) < min(map(bottom, upper)), name
        for i in range(n_layer):  # inside a layer, the parts in order too
            parts = [[b for b in bands[1 + i] if b.group == g] for g in LAYER_GROUPS]
            for upper, lower in zip(parts, parts[1:], strict=False):
                assert max(map(top, lower)) < min(map(bottom, upper)), (name, i)
        # the box list is in computation order: layers never go back
        layers = [b.layer for b in scene.boxes if b.layer is not None]
        assert layers == sorted(layers)


def test_residual_stream_is_centred_on_x0(nano, shells, wide):
    for name, scene in all_scenes(nano, shells, wide).items():
        names = ["emb", "ln_f.out"]
        for i in range(scene.config.n_layer):
            names += [f"h.{i}.attn.residual", f"h.{i}.mlp.residual"]
        for n in names:
            box = scene.by_name[n]
            assert box.center[0] == 0.0 and box.cols == scene.n_tokens, (name, n)


def test_titles_are_non_empty_and_unique(nano, shells, wide):
    for name, scene in all_scenes(nano, shells, wide).items():
        titles = [b.title for b in scene.boxes]
        assert all(t.strip() for t in titles)
        assert len(set(titles)) == len(titles), name


# ---- render-only shells ---------------------------------------------------------------------


def drawn_param_shapes(scene: Scene) -> dict[str, int]:
    """Cells drawn per parameter tensor, recovered from the box names."""
    cells: dict[str, int] = {}
    for box in scene.boxes:
        if box.kind != "weight":
            continue
        name = box.name
        if ".attn.head" in name:  # h.{i}.attn.head{h}.q_weight / .heads.q_bias
            layer, kind = name.split(".attn.")[0], name.rsplit("_", 1)[1]
            name = f"{layer}.attn.c_attn.{kind}"
        cells[name] = cells.get(name, 0) + box.rows * box.cols
    return cells


@pytest.mark.parametrize("preset", list(PRESETS))
def test_shell_has_the_true_shapes(shells, preset):
    cfg, scene = PRESETS[preset], shells[preset]
    T = min(cfg.block_size, SHELL_MAX_TOKENS)
    assert scene.n_tokens == T
    assert all(b.source is None for b in scene.boxes)
    specs = {s.name: s for s in param_specs(cfg, include_tied=True)}
    assert drawn_param_shapes(scene) == {n: s.size for n, s in specs.items()}
    C, V = cfg.n_embd, cfg.vocab_size
    for name, spec in specs.items():
        if name in scene.by_name:  # drawn whole: matrices as W^T, 1-D as one column
            box = scene.by_name[name]
            if spec.kind == "unembedding":
                assert box.shape == spec.shape
            elif len(spec.shape) == 2:
                assert box.shape == spec.shape[::-1], name
            else:
                assert box.shape == (spec.shape[0], 1), name
    S = scene.by_name
    assert S["h.0.mlp.fc"].shape == (4 * C, T) and S["logits"].shape == (V, T)
    assert S["emb"].shape == (C, T) and S["h.0.ln_1.mean"].shape == (1, T)
    merged = cfg.n_head > MERGE_HEADS_ABOVE
    assert scene.heads_merged == (cfg.n_head if merged else 1)
    H, D = cfg.n_head, cfg.head_dim
    if merged:
        assert S["h.0.attn.heads.q"].shape == (H * D, T)
        assert S["h.0.attn.heads.q_weight"].shape == (H * D, C)
        assert S["h.0.attn.heads.scores"].shape == (H * T, T)
        assert S["h.0.attn.heads.max"].shape == (H, T)
        assert S["h.0.attn.heads.q"].heads_merged == H
        assert not any(".attn.head0." in n for n in S)
    else:
        assert S[f"h.0.attn.head{H - 1}.q"].shape == (D, T)
        assert S[f"h.0.attn.head{H - 1}.scores"].shape == (T, T)
        assert all(b.heads_merged == 1 for b in scene.boxes)


def test_gpt3_shell_is_small_and_true_to_size():
    scene = build_scene(PRESETS["gpt3"])  # its build time: bench/bench_render.py
    assert len(scene.boxes) < 5000
    up = scene.by_name["h.0.mlp.c_fc.weight"]
    assert (up.rows, up.cols) == (49152, 12288) and up.size[:2] == (12288.0, 49152.0)
    assert scene.by_name["h.95.mlp.c_proj.weight"].shape == (12288, 49152)
    assert scene.by_name["wte.weight"].shape == (12288, 50257)
    assert scene.by_name["lm_head.weight"].shape == (50257, 12288)
    assert scene.n_tokens == SHELL_MAX_TOKENS == 64 and scene.heads_merged == 96


def test_gpt2_shell_keeps_one_box_per_head(shells):
    scene = shells["gpt2"]
    assert scene.heads_merged == 1 and scene.n_tokens == SHELL_MAX_TOKENS
    assert scene.by_name["h.11.attn.head11.out"].shape == (64, SHELL_MAX_TOKENS)
    assert len(scene.boxes) < 5000


# ---- more heads than the merge threshold ----------------------------------------------------


def test_a_trace_is_never_merged(wide):
    params, trace, scene = wide
    assert WIDE.n_head > MERGE_HEADS_ABOVE and scene.heads_merged == 1
    assert_trace_coverage(scene, trace, params)
    assert_param_coverage(scene, params)


def test_merged_shell_with_weights_covers_c_attn_once(wide):
    params, _, _ = wide
    scene = build_scene(WIDE, None, params)
    assert scene.heads_merged == WIDE.n_head and scene.n_tokens == WIDE.block_size
    assert_param_coverage(scene, params)
    C = WIDE.n_embd
    k_weight = scene.by_name["h.1.attn.heads.k_weight"]
    assert k_weight.source is not None
    want = params["h.1.attn.c_attn.weight"][:, C : 2 * C].T
    np.testing.assert_array_equal(k_weight.source.matrix(None, params), want)


# ---- ValueSource and build_scene arguments --------------------------------------------------


def test_value_source_layouts():
    params = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.arange(5.0)}
    src = ValueSource("param", "w", transpose=True, cols=(1, 3))
    m = src.matrix(None, params)
    np.testing.assert_array_equal(m, params["w"][:, 1:3].T)
    assert all(params["w"][src.index(i, j)] == m[i, j] for i in range(2) for j in range(3))
    col = ValueSource("param", "b", ndim=1, rows=(2, 4))
    assert col.matrix(None, params).tolist() == [[2.0], [3.0]] and col.index(1, 0) == (3,)
    row = ValueSource("param", "b", ndim=1, transpose=True)
    assert row.matrix(None, params).shape == (1, 5) and row.index(0, 4) == (4,)
    with pytest.raises(IndexError):
        col.index(0, 1)
    with pytest.raises(ValueError):
        ValueSource("weights", "w")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ValueSource("param", "b", ndim=1, cols=(0, 1))
    with pytest.raises(ValueError):
        ValueSource("tokens", "everything")


def test_build_scene_checks_the_token_count(nano):
    cfg, params, trace, _ = nano
    with pytest.raises(ValueError):
        build_scene(cfg, n_tokens=cfg.block_size + 1)
    with pytest.raises(ValueError):
        build_scene(cfg, trace, params, n_tokens=3)
    assert build_scene(PRESETS["gpt2"], n_tokens=8).n_tokens == 8


def test_layout_imports_only_numpy_and_the_model():
    folder = Path(layout_pkg.__file__).parent
    for path in (folder / name for name in ("layout.py", "boxes.py", "build.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            else:
                continue
            for name in names:
                if name.startswith(".."):
                    assert name.startswith("..model"), f"{path.name} imports {name}"
                elif not name.startswith("."):
                    top_level = name.split(".")[0]
                    assert top_level in {
                        "numpy",
                        "__future__",
                        "collections",
                        "dataclasses",
                        "typing",
                    }, f"{path.name} imports {name}"


def test_picking_a_thick_box_front_top_and_side(nano):
    """Cells are on the front face; the top face shows row 0 and the left side column 0
    (as the shader draws them), so a ray hitting either picks that edge cell."""
    from llmviz_desktop.scene.picking import cell_at, pick_box

    scene = nano[3]
    box = scene.by_name["h.0.attn.head1.q"]  # a head behind the spine plane
    k = scene.index_of[box.name]
    x, y, _ = box.cell_center(3, 2)
    z = box.origin[2] - box.size[2] / 2  # mid-depth, for the rays from above and the side
    # from the front, head 0's q hides it: start the ray in the gap between the two heads
    front = pick_box(scene, np.array([x, y, box.origin[2] + 1.0]), np.array([0.0, 0.0, -1.0]))
    hidden = pick_box(scene, np.array([x, y, 500.0]), np.array([0.0, 0.0, -1.0]))
    assert hidden is not None and scene.boxes[hidden[0]].name == "h.0.attn.head0.q"
    assert front is not None and front[0] == k and front[1][2] == box.origin[2]
    assert cell_at(box, front[1]) == (3, 2)
    top = pick_box(scene, np.array([x, box.origin[1] + 0.5, z]), np.array([0.0, -1.0, 0.0]))
    assert top is not None and top[0] == k and cell_at(box, top[1]) == (0, 2)
    side = pick_box(scene, np.array([box.origin[0] - 1.0, y, z]), np.array([1.0, 0.0, 0.0]))
    assert side is not None and side[0] == k and cell_at(box, side[1]) == (3, 0)
