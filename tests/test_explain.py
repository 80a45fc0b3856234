"""The cell explainer: every drawn value is explained by a formula that recomputes it exactly
from the trace and the weights; sources point at real cells; shells explain symbolically."""

from __future__ import annotations

import math
import random
import string
import struct
from pathlib import Path

import numpy as np
import pytest

from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.gpt import forward, gelu
from llmviz_desktop.model.params import init_params, lm_head
from llmviz_desktop.scene import explain as ex_mod
from llmviz_desktop.scene.explain import OPERATIONS, SYMBOLS, Explanation, explain, fmt
from llmviz_desktop.scene.layout import Scene, TensorBox, ValueSource, build_scene
from llmviz_desktop.session.loaded import LoadedModel

ALLOWED = set(string.printable) | set(SYMBOLS)
# the expected name in index_text of each drawn axis of an activation box
AXIS_NAMES = {
    "T": ["t"],
    "C": ["c"],
    "D": ["d"],
    "4C": ["j"],
    "vocab": ["v"],
    "T_k": ["t_k"],
    "H·D": ["h", "d"],
    "H·T_k": ["h", "t_k"],
    "H": ["h"],
    "1": [],
}


@pytest.fixture(scope="module")
def tied() -> LoadedModel:
    """A small GPT with tied embeddings and no biases, every parameter perturbed."""
    cfg = GPTConfig(
        name="tied",
        n_layer=2,
        n_head=2,
        n_embd=8,
        vocab_size=5,
        block_size=6,
        bias=False,
        tie_word_embeddings=True,
    )
    rng = np.random.default_rng(7)
    params = {
        k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32)
        for k, v in init_params(cfg, seed=3).items()
    }
    trace = forward(cfg, params, np.array([1, 4, 0, 2, 2, 3]))
    return LoadedModel("tied", cfg, params, trace, build_scene(cfg, trace, params))


def sample_cells(box: TensorBox, rng: random.Random) -> list[tuple[int, int]]:
    """Corners, centre, t = 0, a few random cells; every cell of the small attention boxes
    (all masked, diagonal and t = 0 cases)."""
    if box.rows * box.cols <= 121 and box.head is not None and box.kind != "weight":
        return [(i, j) for i in range(box.rows) for j in range(box.cols)]
    r, c = box.rows - 1, box.cols - 1
    cells = {(0, 0), (r, c), (0, c), (r, 0), (r // 2, c // 2)}
    cells |= {(rng.randrange(box.rows), rng.randrange(box.cols)) for _ in range(3)}
    return sorted(cells)


def check_refs(scene: Scene, ex: Explanation) -> None:
    for ref in ex.sources:
        assert ref.box in scene, ref
        box = scene[ref.box]
        for rng, n in ((ref.rows, box.rows), (ref.cols, box.cols)):
            if rng is not None:
                assert 0 <= rng[0] < rng[1] <= n, (ex.box, ref)
        assert ref.role


def check_text(ex: Explanation) -> None:
    for text in (ex.formula, ex.index_text, *ex.lines):
        bad = set(text) - ALLOWED
        assert not bad, (ex.box, text, bad)
    assert ex.formula and ex.index_text and ex.lines


def check_terms(ex: Explanation) -> None:
    assert len(ex.terms) == min(ex_mod.N_TERMS, ex.n_terms)
    mags = [abs(t.product) for t in ex.terms]
    assert mags == sorted(mags, reverse=True)
    ks = [t.k for t in ex.terms]
    assert len(set(ks)) == len(ks) and all(0 <= k < ex.n_terms for k in ks)
    for t in ex.terms:
        if t.b is not None:
            assert t.product == pytest.approx(t.a * t.b, rel=1e-12, abs=1e-300)


def check_model(model: LoadedModel, seed: int = 0) -> int:
    scene, trace, params = model.scene, model.trace, model.params
    rng = random.Random(seed)
    n = 0
    for box in scene.boxes:
        assert box.source is not None
        drawn = box.source.matrix(trace, params)
        finite = drawn[np.isfinite(drawn)]
        scale = float(np.abs(finite).max()) if finite.size else 1.0
        for i, j in sample_cells(box, rng):
            ex = explain(scene, box.name, i, j, trace, params)
            n += 1
            assert (ex.box, ex.title, ex.kind, ex.cell) == (box.name, box.title, box.kind, (i, j))
            assert ex.operation in OPERATIONS
            assert ex.index == box.source.index(i, j)
            assert ex.value == drawn[i, j], (box.name, i, j)  # exactly the drawn number
            assert ex.recomputed is not None and ex.value is not None
            if math.isinf(ex.value):
                assert ex.recomputed == ex.value and ex.operation == "masked_score"
            else:
                tol = 1e-5 * abs(ex.value) + 1e-6 * scale
                assert abs(ex.recomputed - ex.value) <= tol, (box.name, i, j, ex)
            check_refs(scene, ex)
            check_text(ex)
            if ex.n_terms:
                check_terms(ex)
            else:
                assert ex.terms == ()
    return n


def test_every_box_of_nano_sort_recomputes_its_drawn_values(nano):
    n = check_model(nano)
    assert n > 2000


def test_tied_model_without_biases_recomputes_its_drawn_values(tied):
    assert check_model(tied, seed=1) > 500
    ex = explain(tied.scene, "logits", 2, 3, tied.trace, tied.params)
    assert "wte" in " ".join(ex.lines)
    assert [r.box for r in ex.sources] == ["ln_f.out", "lm_head.weight"]
    ex = explain(tied.scene, "h.1.attn.head1.k", 1, 2, tied.trace, tied.params)
    assert "b[j]" not in ex.formula and "bias" not in [r.role for r in ex.sources]


def test_all_operations_are_reached(nano):
    ops = set()
    scene, trace, params = nano.scene, nano.trace, nano.params
    for box in scene.boxes:
        for i, j in ((0, 0), (box.rows - 1, 0)):
            ops.add(explain(scene, box.name, i, j, trace, params).operation)
    assert ops == set(OPERATIONS)


# ---- the largest terms, checked against the full sums --------------------------------------


def full_products(model: LoadedModel, box: TensorBox, ex: Explanation) -> np.ndarray:
    """Every summand of the cell's sum, computed here independently."""
    tr, p, cfg = model.trace, model.params, model.config
    assert tr is not None and p is not None

    def a(name: str) -> np.ndarray:
        return np.asarray(tr[name][0], dtype=np.float64)

    C, D, H = cfg.n_embd, cfg.head_dim, cfg.n_head
    name, L = box.name, box.layer
    idx = ex.index
    t = idx[1]
    if name.endswith((".q", ".k", ".v")):
        assert box.head is not None
        part, h, d = "qkv".index(name[-1]), box.head, idx[2]
        w = p[f"h.{L}.attn.c_attn.weight"][:, part * C + h * D + d]
        return a(f"h.{L}.ln_1.out")[t] * w
    if name.endswith(".scores"):
        pre = name.rsplit(".", 1)[0]
        return a(pre + ".q")[t] * a(pre + ".k")[idx[2]]
    if name.endswith(".out") and ".attn." in name:
        pre = name.rsplit(".", 1)[0]
        return a(pre + ".probs")[t, : t + 1] * a(pre + ".v")[: t + 1, idx[2]]
    if name.endswith(".expsum"):
        pre = name.rsplit(".", 1)[0]
        return np.exp(a(pre + ".scores")[t, : t + 1] - a(pre + ".max")[t])
    if name.endswith("attn.proj"):
        y = np.concatenate([a(f"h.{L}.attn.head{h}.out")[t] for h in range(H)])
        return y * p[f"h.{L}.attn.c_proj.weight"][:, idx[2]]
    if name.endswith("mlp.fc"):
        return a(f"h.{L}.ln_2.out")[t] * p[f"h.{L}.mlp.c_fc.weight"][:, idx[2]]
    if name.endswith("mlp.proj"):
        return a(f"h.{L}.mlp.gelu")[t] * p[f"h.{L}.mlp.c_proj.weight"][:, idx[2]]
    if name == "logits":
        return a("ln_f.out")[t] * lm_head(cfg, p)[idx[2]]
    if name == "probs":
        lg = a("logits")[t]
        return np.exp(lg - lg.max())
    x_name = "h.0.mlp.residual" if name.startswith("h.1.ln_1") else "h.1.attn.residual"
    x = a(x_name)[t]
    if name.endswith(".mean"):
        return x
    assert name.endswith(".rstd")
    xc = x - a(name.replace(".rstd", ".mean"))[t]
    return xc * xc


SUM_BOXES = [
    "h.1.attn.head2.q",
    "h.2.attn.head0.k",
    "h.0.attn.head1.v",
    "h.1.attn.head1.scores",
    "h.2.attn.head2.out",
    "h.2.attn.head0.expsum",
    "h.1.attn.proj",
    "h.0.mlp.fc",
    "h.2.mlp.proj",
    "logits",
    "probs",
    "h.1.ln_1.mean",
    "h.1.ln_2.rstd",
]


@pytest.mark.parametrize("name", SUM_BOXES)
def test_terms_are_the_largest_products(nano, name):
    box = nano.scene[name]
    rng = random.Random(name)
    for _ in range(25):
        i, j = rng.randrange(box.rows), rng.randrange(box.cols)
        ex = explain(nano.scene, name, i, j, nano.trace, nano.params)
        if ex.operation == "masked_score":
            continue
        products = full_products(nano, box, ex)
        assert ex.n_terms == len(products)
        top = np.sort(np.abs(products))[::-1][: ex_mod.N_TERMS]
        np.testing.assert_allclose([abs(t.product) for t in ex.terms], top, rtol=1e-12)
        for t in ex.terms:
            assert t.product == pytest.approx(products[t.k], rel=1e-12)


# ---- specific cases ---------------------------------------------------------------------------


def test_masked_scores_and_weights(nano):
    s, tr, p = nano.scene, nano.trace, nano.params
    # scores are drawn transposed: cell (i, j) is key t_k = i against query t = j
    ex = explain(s, "h.0.attn.head1.scores", 5, 2, tr, p)
    assert ex.index == (0, 2, 5)
    assert ex.operation == "masked_score" and ex.value == -math.inf == ex.recomputed
    assert "future" in " ".join(ex.lines)
    ex = explain(s, "h.0.attn.head1.probs", 5, 2, tr, p)
    assert ex.operation == "softmax" and ex.value == 0.0 == ex.recomputed
    ex = explain(s, "h.0.attn.head1.probs", 0, 0, tr, p)  # t = 0 sees only itself
    assert ex.value == 1.0 and ex.recomputed == pytest.approx(1.0)
    assert {"max", "sum"} <= set(ex.extra)
    roles = {r.role: r for r in ex.sources}
    assert roles["max"].box == "h.0.attn.head1.max" and roles["max"].cols == (0, 1)
    assert roles["sum"].box == "h.0.attn.head1.expsum"
    assert roles["score row"].rows == (0, 1) and roles["score row"].cols == (0, 1)


def test_index_text_names_axes_and_tokens(nano, gpt3):
    letters = nano.config.vocab
    assert letters is not None
    for model in (nano, gpt3):
        for box in model.scene.boxes:
            ex = explain(
                model.scene, box.name, box.rows - 1, box.cols - 1, model.trace, model.params
            )
            if box.kind == "weight":
                assert ex.index_text.startswith(ex.extra["param"] + "[")
                continue
            for axis in (box.row_axis, box.col_axis):
                for name in AXIS_NAMES[axis]:
                    assert f"{name} = " in ex.index_text, (box.name, ex.index_text)
    ex = explain(nano.scene, "h.0.mlp.fc", 7, 3, nano.trace, nano.params)
    tok = letters[int(nano.trace.tokens[0, 3])]
    assert ex.index_text == f"t = 3 ({tok}), j = 7"
    ex = explain(nano.scene, "logits", 2, 0, nano.trace, nano.params)
    assert ex.index_text.endswith("v = 2 (C)")


def test_embedding_tokens_and_gelu(nano):
    s, tr, p = nano.scene, nano.trace, nano.params
    tok = int(tr.tokens[0, 4])
    ex = explain(s, "tok_emb", 3, 4, tr, p)
    assert ex.operation == "embedding" and ex.extra["token_id"] == tok
    assert ex.extra["token"] == nano.config.vocab[tok]
    refs = {r.box: r for r in ex.sources}
    assert refs["wte.weight"].rows == (3, 4) and refs["wte.weight"].cols == (tok, tok + 1)
    assert refs["input_tokens"].cols == (4, 5)
    assert explain(s, "emb", 3, 4, tr, p).operation == "residual"
    assert explain(s, "pos_emb", 3, 4, tr, p).operation == "position"

    ex = explain(s, "output_tokens", 0, 4, tr, p)
    probs = tr["probs"][0, 4]
    assert ex.value == float(np.argmax(probs)) and ex.extra["probability"] == probs.max()
    assert "argmax" in ex.formula and "predicted next token" in ex.lines[0]

    ex = explain(s, "h.1.mlp.gelu", 50, 6, tr, p)
    x = float(tr["h.1.mlp.fc"][0, 6, 50])
    assert ex.plot == "gelu" and ex.plot_x == x
    assert ex.recomputed == pytest.approx(float(gelu(np.float64(x))), rel=1e-12)
    assert "tanh" in ex.formula


def test_qkv_sources_point_at_the_right_weight_row(nano):
    s, tr, p = nano.scene, nano.trace, nano.params
    ex = explain(s, "h.1.attn.head2.v", 5, 3, tr, p)
    refs = {r.role: r for r in ex.sources}
    assert refs["input column"] == ex_mod.SourceRef("h.1.ln_1.out", None, (3, 4), "input column")
    assert refs["weight column"].box == "h.1.attn.head2.v_weight"
    assert refs["weight column"].rows == (5, 6) and refs["weight column"].cols is None
    assert refs["bias"].box == "h.1.attn.head2.v_bias" and refs["bias"].rows == (5, 6)
    assert ex.n_terms == nano.config.n_embd
    # the drawn weight row holds exactly W[:, col]
    w_box = s["h.1.attn.head2.v_weight"]
    row = w_box.source.matrix(tr, p)[5]
    C, D = nano.config.n_embd, nano.config.head_dim
    np.testing.assert_array_equal(row, p["h.1.attn.c_attn.weight"][:, 2 * C + 2 * D + 5])
    for t in ex.terms:
        assert t.b == row[t.k]


def test_shells_explain_symbolically(gpt3, nano):
    scene = gpt3.scene
    for box in scene.boxes:
        for i, j in {(0, 0), (box.rows - 1, box.cols - 1), (box.rows // 2, box.cols // 2)}:
            ex = explain(scene, box.name, i, j)
            assert ex.value is None and ex.recomputed is None and ex.terms == ()
            assert ex.operation in OPERATIONS and ex.plot_x is None
            assert "shell" in ex.lines[-1]
            check_refs(scene, ex)
            check_text(ex)
    ex = explain(scene, "h.5.attn.heads.scores", 3 * 64 + 9, 4)  # head 3, key 9 > query 4
    assert ex.operation == "masked_score" and ex.index == (0, 4, 3 * 64 + 9)
    assert "h = 3" in ex.index_text and "t_k = 9" in ex.index_text
    q_ref = next(r for r in ex.sources if r.role == "query")
    D = gpt3.config.head_dim
    assert q_ref == ex_mod.SourceRef("h.5.attn.heads.q", (3 * D, 4 * D), (4, 5), "query")
    ex = explain(scene, "h.5.attn.heads.q", 2 * D + 7, 4)
    assert ex.operation == "matmul" and ex.n_terms == gpt3.config.n_embd
    assert "Σ" in ex.formula and f"= {2 * D + 7}" in ex.lines[1]
    assert explain(scene, "h.0.mlp.gelu", 5, 5).plot == "gelu"
    # a scene with values explained without them is symbolic too
    ex = explain(nano.scene, "h.0.attn.head0.q", 1, 1)
    assert ex.value is None and ex.recomputed is None and ex.formula


def test_shell_sources_match_the_layout(nano, tied):
    """The address a shell box has (from the table, what explain reads) is the source the same
    box has with values."""
    for model in (nano, tied):
        shell = build_scene(model.config, n_tokens=model.scene.n_tokens)
        for box in model.scene.boxes:
            assert box.address == box.source, box.name
            assert shell[box.name].address == box.source, box.name


def test_bad_cells_raise(nano):
    with pytest.raises(KeyError):
        explain(nano.scene, "nope", 0, 0)
    with pytest.raises(IndexError):
        explain(nano.scene, "emb", 48, 0, nano.trace, nano.params)


def test_number_format():
    assert fmt(-0.123456) == "−0.1235"
    assert fmt(12345678.0) == "1.235e+07"
    assert fmt(1e-5) == "1e−05"
    assert fmt(-math.inf) == "−∞" and fmt(math.inf) == "∞"


@pytest.mark.parametrize("spec", ["nano-sort", "gpt3"])
def test_explain_answers_for_random_cells(spec, nano, gpt3):
    """1000 random cells of every kind of box each get an explanation (the time per cell is
    bench/bench_hover.py's "explain alone" row)."""
    model = nano if spec == "nano-sort" else gpt3
    rng = random.Random(11)
    boxes = model.scene.boxes
    cells = []
    for _ in range(1000):
        box = rng.choice(boxes)
        cells.append((box.name, rng.randrange(box.rows), rng.randrange(box.cols)))
    for cell in cells:
        assert isinstance(explain(model.scene, *cell, model.trace, model.params), Explanation)


# ---- the UI font has every glyph --------------------------------------------------------------


def font_codepoints(path: Path) -> set[int]:
    """Code points a TrueType font maps to a glyph (cmap format 4, the BMP)."""
    data = path.read_bytes()
    n_tables = struct.unpack(">H", data[4:6])[0]
    tables = {}
    for n in range(n_tables):
        tag, _, off, _ = struct.unpack(">4sIII", data[12 + 16 * n : 28 + 16 * n])
        tables[tag] = off
    cmap = tables[b"cmap"]
    cps: set[int] = set()
    for n in range(struct.unpack(">H", data[cmap + 2 : cmap + 4])[0]):
        _, _, sub = struct.unpack(">HHI", data[cmap + 4 + 8 * n : cmap + 12 + 8 * n])
        s = cmap + sub
        if struct.unpack(">H", data[s : s + 2])[0] != 4:
            continue
        seg2 = struct.unpack(">H", data[s + 6 : s + 8])[0]
        seg = seg2 // 2
        ends = struct.unpack(f">{seg}H", data[s + 14 : s + 14 + seg2])
        starts = struct.unpack(f">{seg}H", data[s + 16 + seg2 : s + 16 + 2 * seg2])
        deltas = struct.unpack(f">{seg}h", data[s + 16 + 2 * seg2 : s + 16 + 3 * seg2])
        ro = s + 16 + 3 * seg2
        offsets = struct.unpack(f">{seg}H", data[ro : ro + seg2])
        for k in range(seg):
            for cp in range(starts[k], min(ends[k], 0xFFFE) + 1):
                if offsets[k] == 0:
                    glyph = (cp + deltas[k]) & 0xFFFF
                else:
                    pos = ro + 2 * k + offsets[k] + 2 * (cp - starts[k])
                    glyph = struct.unpack(">H", data[pos : pos + 2])[0]
                    glyph = (glyph + deltas[k]) & 0xFFFF if glyph else 0
                if glyph:
                    cps.add(cp)
    return cps


def test_symbols_are_in_the_ui_font():
    from llmviz_desktop.ui.imgui_input import default_font_path

    path = default_font_path()
    assert path is not None, "imgui_bundle ships no DroidSans.ttf (the UI font)"
    cps = font_codepoints(path)
    assert all(ord(ch) in cps for ch in string.printable.strip())
    missing = [ch for ch in SYMBOLS if ord(ch) not in cps]
    assert not missing


# ---- ValueSource.cell, the inverse of index -----------------------------------------------------


def test_value_source_cell_inverts_index(nano, tied):
    rng = random.Random(5)
    for model in (nano, tied):
        for box in model.scene.boxes:
            src = box.source
            assert src is not None
            for _ in range(5):
                i, j = rng.randrange(box.rows), rng.randrange(box.cols)
                idx = src.index(i, j)
                assert src.cell(idx) == (i, j)
                arr = np.asarray(src.array(model.trace, model.params))
                # the drawn matrix is float32; small models are traced in float64
                assert np.float32(arr[idx]) == src.matrix(model.trace, model.params)[i, j]


def test_value_source_cell_outside_the_slice():
    w = ValueSource("param", "w", transpose=True, cols=(16, 32))
    assert w.cell((3, 20)) == (4, 3)
    assert w.index(4, 3) == (3, 20)
    assert w.cell((3, 15)) is None and w.cell((3, 32)) is None and w.cell((-1, 20)) is None
    assert w.cell((3,)) is None and w.cell((1, 2, 3)) is None
    b = ValueSource("param", "b", ndim=1, rows=(48, 64))
    assert b.cell((50,)) == (2, 0) and b.cell((47,)) is None and b.cell((64,)) is None
    a = ValueSource("trace", "x", transpose=True, batched=True, ndim=1)
    assert a.cell((0, 7)) == (0, 7)
    assert a.cell((1, 7)) is None and a.cell((7,)) is None
    m = ValueSource("trace", "y", transpose=True, batched=True)
    assert m.cell(np.array([0, 3, 9])) == (9, 3)
