"""Analysis views: attention maps, the logit lens, parameter groups and their 3D labels (pure
numpy), and a headless frame of the Analysis panel and the parameter overlay."""

from __future__ import annotations

import numpy as np
import pytest

from llmviz_desktop.model.config import GPTConfig, preset
from llmviz_desktop.model.counts import KIND_TITLES, count_params
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params, lm_head
from llmviz_desktop.scene.analysis import (
    GROUPS,
    attention_grids,
    attention_maps,
    group_label_positions,
    lens_sources,
    logit_lens,
    param_groups,
    token_decoder,
    token_labels,
)
from llmviz_desktop.scene.layout import build_scene
from llmviz_desktop.session.loaded import load_model

GPT3_MATRICES = 175_181_291_520  # Brown et al. 2020; 3Blue1Brown's tally


@pytest.fixture(scope="module")
def tied():
    """A random GPT with tied embeddings and no biases."""
    cfg = GPTConfig(
        name="tied",
        n_layer=2,
        n_head=2,
        n_embd=16,
        vocab_size=7,
        block_size=8,
        bias=False,
        tie_word_embeddings=True,
    )
    params = init_params(cfg, seed=3)
    params["wte.weight"] *= 40.0  # distinct logits: no near-ties for argmax to fall between
    trace = forward(cfg, params, np.array([1, 4, 0, 6, 2, 2, 5]))
    return cfg, params, trace


# ---- attention ---------------------------------------------------------------------------------


def test_attention_maps_are_the_trace_tensors(nano):
    trace, cfg = nano.trace, nano.config
    maps = attention_maps(trace)
    T = trace.tokens.shape[1]
    assert maps.shape == (cfg.n_layer, cfg.n_head, T, T)
    for i in range(cfg.n_layer):
        for h in range(cfg.n_head):
            np.testing.assert_array_equal(maps[i, h], trace[f"h.{i}.attn.head{h}.probs"][0])


def test_attention_rows_sum_to_one_and_are_causal(nano, tied):
    for trace in (nano.trace, tied[2]):
        maps = attention_maps(trace)
        np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-6)
        assert (maps >= 0).all()
        assert not np.triu(maps, k=1).any(), "a query attends to a later position"


def test_heatmaps_are_turned_as_the_3d_probs_boxes(nano):
    """The Analysis heatmaps draw what each head's probs box draws, in the same orientation:
    a column per query, a row per key (before: rows = query, the 3D boxes' transpose)."""
    trace, cfg, scene = nano.trace, nano.config, nano.scene
    grids = attention_grids(trace)
    for i in range(cfg.n_layer):
        for h in range(cfg.n_head):
            box = scene[f"h.{i}.attn.head{h}.probs"]
            assert (box.row_axis, box.col_axis) == ("T_k", "T")
            drawn = box.source.matrix(trace, nano.params)  # what the box draws (float32)
            np.testing.assert_allclose(grids[i, h], drawn, rtol=1e-6, atol=1e-7)
            # key s > query t is the masked future: the lower-left triangle, as in 3D
            assert not np.tril(grids[i, h], -1).any()
            np.testing.assert_allclose(grids[i, h].sum(axis=0), 1.0)  # each query's column


def test_3d_attention_boxes_name_their_axes_query_and_key(nano):
    from llmviz_desktop.scene.camera import Camera
    from llmviz_desktop.scene.framing import default_panels
    from llmviz_desktop.scene.labels import place

    W, H = 1280, 720
    for name in ("h.0.attn.head0.probs", "h.0.attn.head0.scores"):
        box = nano.scene[name]
        near = Camera(target=box.center, distance=80.0, yaw=-15, pitch=10)
        p = place(nano.scene, near, W, H, focus=[name], panels=default_panels(W, H))
        dims = {lb.text for lb in p.labels if lb.kind == "dim" and lb.box == name}
        assert dims == {f"query T = {box.cols}", f"key T_k = {box.rows}"}, dims
    q = nano.scene["h.0.attn.head0.q"]  # other boxes keep their plain measures
    near = Camera(target=q.center, distance=80.0, yaw=-15, pitch=10)
    p = place(nano.scene, near, W, H, focus=[q.name], panels=default_panels(W, H))
    assert {lb.text for lb in p.labels if lb.kind == "dim" and lb.box == q.name} == {
        f"T = {q.cols}",
        f"D = {q.rows}",
    }


def test_token_labels(nano, gpt3):
    assert token_labels(nano) == list("CBABBCABBBC")
    assert "".join(token_labels(nano)) == nano.input_text + nano.output_text[:-1]
    assert token_labels(nano, decoder=lambda i: f"<{i}>")[0] == "<2>"
    assert token_labels(gpt3) == []
    assert token_decoder(gpt3.config)(7) == "#7"  # no vocabulary, no tokenizer


# ---- logit lens --------------------------------------------------------------------------------


def test_logit_lens_last_layer_is_the_models_prediction(nano):
    cfg, params, trace = nano.config, nano.params, nano.trace
    T = trace.tokens.shape[1]
    for pos in range(T):
        rows = logit_lens(cfg, params, trace, k=3, position=pos)
        assert [r.source for r in rows] == lens_sources(cfg)
        assert [r.layer for r in rows] == list(range(cfg.n_layer + 1))
        final = rows[-1]
        np.testing.assert_allclose(final.distribution, trace["probs"][0, pos], rtol=0, atol=1e-6)
        assert final.ids[0] == int(np.argmax(trace["probs"][0, pos]))
        for r in rows:
            assert len(r.ids) == 3 and list(r.probs) == sorted(r.probs, reverse=True)
            np.testing.assert_allclose(r.distribution.sum(), 1.0, atol=1e-6)
            assert r.probs == tuple(float(r.distribution[i]) for i in r.ids)
    default = logit_lens(cfg, params, trace)
    last = logit_lens(cfg, params, trace, position=T - 1)
    assert [r.ids for r in default] == [r.ids for r in last]


def test_logit_lens_with_tied_embeddings_and_no_biases(tied):
    cfg, params, trace = tied
    assert "lm_head.weight" not in params and "ln_f.bias" not in params
    for pos in range(trace.tokens.shape[1]):
        rows = logit_lens(cfg, params, trace, k=4, position=pos)
        np.testing.assert_allclose(rows[-1].distribution, trace["probs"][0, pos], rtol=0, atol=1e-6)
        assert rows[-1].ids[0] == int(np.argmax(trace["probs"][0, pos]))


def test_logit_lens_first_row_reads_the_embeddings(nano):
    """Layer 0 recomputed independently in float64: LN_f(emb) @ lm_head^T, softmax."""
    cfg, params, trace = nano.config, nano.params, nano.trace
    x = trace["emb"][0, 4].astype(np.float64)
    xhat = (x - x.mean()) / np.sqrt(x.var() + cfg.layer_norm_epsilon)
    logits = (xhat * params["ln_f.weight"] + params["ln_f.bias"]) @ lm_head(cfg, params).T
    p = np.exp(logits - logits.max())
    p /= p.sum()
    row = logit_lens(cfg, params, trace, position=4)[0]
    np.testing.assert_allclose(row.distribution, p, atol=1e-5)


def test_logit_lens_k_and_position_bounds(nano):
    cfg, params, trace = nano.config, nano.params, nano.trace
    assert len(logit_lens(cfg, params, trace, k=10)[0].ids) == cfg.vocab_size
    assert len(logit_lens(cfg, params, trace, k=0)[0].ids) == 1
    with pytest.raises(IndexError):
        logit_lens(cfg, params, trace, position=trace.tokens.shape[1])


@pytest.fixture(scope="module")
def bpe(tmp_path_factory):
    """A tiny GPT-2 checkpoint with a byte-level BPE tokenizer (tied head, 4 heads)."""
    from test_gpt2_checkpoint import write_checkpoint

    d = tmp_path_factory.mktemp("analysis") / "tiny-gpt2"
    write_checkpoint(d)
    return load_model(str(d))


def test_lens_and_labels_on_a_bpe_checkpoint(bpe):
    cfg, params, trace = bpe.config, bpe.params, bpe.trace
    labels = token_labels(bpe)
    assert labels == [bpe.tokenizer.piece(int(t)) for t in trace.tokens[0]]
    assert "".join(labels).startswith(bpe.input_text)
    for pos in (3, trace.tokens.shape[1] - 1):
        rows = logit_lens(cfg, params, trace, k=5, position=pos)
        np.testing.assert_allclose(rows[-1].distribution, trace["probs"][0, pos], atol=1e-6)
        assert rows[-1].ids[0] == int(np.argmax(trace["probs"][0, pos]))


# ---- parameter counts --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nano-sort", "gpt2", "gpt3"])
def test_param_groups_add_up_to_count_params(name):
    cfg = preset(name)
    pc = count_params(cfg)
    rows = param_groups(cfg)
    groups = [g for g in rows if not g.is_total]
    totals = {g.key: g for g in rows if g.is_total}
    assert sorted(k for g in groups for k in g.kinds) == sorted(KIND_TITLES)
    assert [g.key for g in groups] == [key for key, _, _ in GROUPS]
    assert totals["total"].total == sum(g.total for g in groups) == pc.total
    assert totals["matrices_total"].total == sum(g.total for g in groups if g.is_matrix)
    assert totals["matrices_total"].total == pc.matrices_total
    assert totals["total"].per_layer == sum(g.per_layer for g in groups) == pc.block_total
    assert totals["matrices_total"].per_layer == pc.block_matrices
    by_key = {g.key: g for g in groups}
    C = cfg.n_embd
    assert by_key["attention"].per_layer == 4 * C * C
    assert by_key["mlp"].per_layer == 8 * C * C
    assert by_key["attention"].total == cfg.n_layer * 4 * C * C


def test_gpt3_matrices_total_is_the_published_figure():
    totals = {g.key: g.total for g in param_groups(preset("gpt3"))}
    assert totals["matrices_total"] == GPT3_MATRICES
    assert f"{totals['matrices_total']:,}" == "175,181,291,520"


def test_tied_unembedding_counts_nothing(tied):
    by_key = {g.key: g for g in param_groups(tied[0])}
    assert by_key["unembedding"].total == 0
    assert by_key["bias"].total == 0


# ---- labels for the 3D overlay -----------------------------------------------------------------


@pytest.mark.parametrize("which", ["nano", "gpt3"])
@pytest.mark.parametrize("per", ["section", "layer"])
def test_group_label_positions_lie_inside_the_scene(which, per, request):
    model = request.getfixturevalue(which)
    scene, cfg = model.scene, model.config
    labels = group_label_positions(scene, per=per)
    per_layer = 2 if per == "section" else 1
    assert len(labels) == per_layer * cfg.n_layer + 2  # + embedding and output
    pts = np.array([lb.position for lb in labels])
    lo, hi = np.array(scene.bounds[0]), np.array(scene.bounds[1])
    assert np.isfinite(pts).all()
    assert ((pts >= lo - 1e-9) & (pts <= hi + 1e-9)).all()
    text, position = labels[1]  # unpacks as (text, world xyz)
    assert text.startswith("Layer 1 · attention") and len(position) == 3
    # each layer's labels sit at its own sections, top to bottom in layer order
    ys = [lb.position[1] for lb in labels if lb.layer is not None]
    assert ys == sorted(ys, reverse=True)
    attn = {g.key: g for g in param_groups(cfg)}["attention"].per_layer
    assert f"attention {attn:,}" in text


def test_group_label_texts_gpt3(gpt3):
    texts = [lb.text for lb in group_label_positions(gpt3.scene)]
    assert texts[1] == "Layer 1 · attention 603,979,776"
    assert texts[2] == "Layer 1 · MLP 1,207,959,552"
    assert texts[0] == "Embedding · wte 617,558,016 · wpe 25,165,824"
    assert texts[-1] == "Output · lm_head 617,558,016"
    with pytest.raises(ValueError):
        group_label_positions(gpt3.scene, per="head")


def test_group_labels_of_a_tied_model(tied):
    cfg, params, trace = tied
    scene = build_scene(cfg, trace, params)
    labels = group_label_positions(scene, per="layer")
    assert labels[-1].text == "Output · unembedding = wte (tied)"
    assert labels[1].text.startswith("Layer 1 · attention 1,024 · MLP 2,048")


# ---- the panel, headless -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def session():
    from llmviz_desktop.app.headless import HeadlessSession

    s = HeadlessSession(1024, 720)
    assert s.ctx.error == "GL_NO_ERROR"
    yield s
    assert s.ctx.error == "GL_NO_ERROR"
    s.release()


def _frames(session, state, n=1):
    """n frames of the scene, the app's UI, the overlay and the Analysis panel; the actions of
    the last."""
    from llmviz_desktop.ui import analysis_panel as ap
    from llmviz_desktop.ui.panels import draw_ui

    actions = ap.AnalysisActions()
    image = None
    for _ in range(n):
        frame = session.ticker.tick(state, 0.0)
        session.target.use()
        session.ui.new_frame()
        # the app's UI draws the overlay and the Analysis panel itself
        result, _ = session.frame.render(frame.drawing, lambda f=frame: draw_ui(state, f))
        actions = result.analysis
        image = session.target.read()
    assert session.ctx.error == "GL_NO_ERROR"
    return actions, image


def _state(model, session):
    from llmviz_desktop.scene.framing import camera_preset
    from llmviz_desktop.session.state import AppState

    w, h = session.width, session.height
    state = AppState.create(model, camera_preset("overview", model.scene, w, h), width=w, height=h)
    state.view.show_stats = False
    return state


@pytest.mark.gl
def test_panel_tabs_render_and_a_click_flies_to_the_head(session, nano):
    from imgui_bundle import imgui

    from llmviz_desktop.ui import analysis_panel as ap

    state = _state(nano, session)
    _frames(session, state)  # first use: the window starts collapsed
    imgui.set_window_collapsed("Analysis", False)
    for tab in ("Logit lens", "Parameters", "Attention"):
        ap.view.select_tab = tab
        actions, image = _frames(session, state, n=2)
        assert actions.fly_to_head is None
    cfg = nano.config
    np.testing.assert_array_equal(ap._cache.maps, attention_grids(nano.trace))
    assert set(ap.view.head_rects) == {
        (i, h) for i in range(cfg.n_layer) for h in range(cfg.n_head)
    }
    x0, y0, x1, y1 = ap.view.head_rects[(1, 2)]
    assert 0 <= x0 < x1 <= session.width and 0 <= y0 < y1 <= session.height
    assert x1 - x0 > 60  # big enough to read
    # the panel is drawn there: the heatmap is not the plain background
    patch = image[int(y0) + 2 : int(y1) - 2, int(x0) + 2 : int(x1) - 2, :3]
    assert patch.std() > 5

    io = imgui.get_io()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    io.add_mouse_pos_event(cx, cy)
    actions, _ = _frames(session, state)
    assert actions.fly_to_head is None  # hovering is not clicking
    io.add_mouse_button_event(0, True)
    actions, _ = _frames(session, state)
    assert actions.fly_to_head == (1, 2)
    io.add_mouse_button_event(0, False)
    actions, _ = _frames(session, state)
    assert actions.fly_to_head is None and ap.view.selected == (1, 2)
    io.add_mouse_pos_event(-1.0, -1.0)


@pytest.mark.gl
def test_attention_tab_of_a_bpe_checkpoint(session, bpe):
    from imgui_bundle import imgui

    from llmviz_desktop.ui import analysis_panel as ap

    state = _state(bpe, session)
    _frames(session, state)
    imgui.set_window_collapsed("Analysis", False)
    for tab in ("Logit lens", "Attention"):
        ap.view.select_tab = tab
        _frames(session, state, n=2)
    cfg = bpe.config
    assert len(ap.view.head_rects) == cfg.n_layer * cfg.n_head
    tops = {round(r[1]) for (layer, _), r in ap.view.head_rects.items() if layer == 0}
    assert len(tops) == 1, "one layer's heads in one row"


def session_size(session) -> tuple[int, int]:
    return session.width, session.height


@pytest.mark.gl
def test_shell_shows_parameters_only_and_overlay_draws(session, gpt3, nano):
    from imgui_bundle import imgui

    from llmviz_desktop.ui import analysis_panel as ap

    state = _state(gpt3, session)
    _frames(session, state)
    imgui.set_window_collapsed("Analysis", False)
    ap.view.select_tab = "Attention"  # ignored: a shell has no tabs
    _frames(session, state, n=2)
    assert ap.view.head_rects == {}

    assert not state.view.show_param_overlay
    ap.view.overlay_drawn = -1
    _frames(session, state)
    assert ap.view.overlay_drawn == -1  # off: nothing drawn
    imgui.set_window_collapsed("Analysis", True)  # the badges keep off the panels
    for model in (gpt3, nano):
        state = _state(model, session)
        # the whole model in view (the opening view is a close-up of layer 1's heads)
        from llmviz_desktop.scene.framing import camera_preset

        state.view.camera = camera_preset("front", model.scene, *session_size(session))
        state.view.show_param_overlay = True
        _frames(session, state)
        assert 2 <= ap.view.overlay_drawn
    # most of nano-sort's sections get their badge (one that would overlap another badge, a
    # title or a panel is left out, not drawn over it)
    assert ap.view.overlay_drawn >= 0.75 * len(group_label_positions(nano.scene))
