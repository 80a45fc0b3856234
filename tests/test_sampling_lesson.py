"""The sampling lesson (issue 15, item 4): the logit lens it reads, the temperature and top-k
sweeps as pure functions of progress, the bars following them, and each step framing its
subject in the free area."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from cli_run import llmviz

from llmviz_desktop.model import activations as A
from llmviz_desktop.model import sampling
from llmviz_desktop.model.generate import next_token_distribution
from llmviz_desktop.model.lens import lens_streams, logit_lens, most_reshaped_position
from llmviz_desktop.scene.framing import Framing, camera_preset
from llmviz_desktop.scene.subject import MIN_INSIDE, MIN_SPAN
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.walkthrough.chapters import load_chapters
from llmviz_desktop.walkthrough.timeline import frame_at

W, H = 1280, 720
LENS = "h.0.attn.residual"


@pytest.fixture(scope="module")
def nano():
    return load_model("nano-sort", "CBABBC")


@pytest.fixture(scope="module")
def chapter():
    return load_chapters().by_id("sampling")


def direct_lens(model, stream: str, t: int) -> list[float]:
    """The lens written out element by element in plain Python floats."""
    cfg, params = model.config, model.params
    x = [float(v) for v in model.trace[stream][0, t]]
    n = len(x)
    mu = sum(x) / n
    var = sum((v - mu) ** 2 for v in x) / n
    g = [float(v) for v in params["ln_f.weight"]]
    b = [float(v) for v in params["ln_f.bias"]] if "ln_f.bias" in params else [0.0] * n
    h = [(x[c] - mu) / math.sqrt(var + cfg.layer_norm_epsilon) * g[c] + b[c] for c in range(n)]
    w = params["wte.weight"] if cfg.tie_word_embeddings else params["lm_head.weight"]
    return [sum(float(w[v, c]) * h[c] for c in range(n)) for v in range(cfg.vocab_size)]


def test_the_lens_is_the_models_own_ln_f_and_lm_head(nano):
    for stream in (A.EMB.name(), LENS, A.MLP_RESIDUAL.name(1)):
        for t in (0, 5, 10):
            got = logit_lens(nano.config, nano.params, nano.trace, stream, t)
            np.testing.assert_allclose(got, direct_lens(nano, stream, t), rtol=1e-9, atol=1e-9)
    # read after the last block, the lens is the model's real output
    last = lens_streams(nano.config)[-1]
    assert last == A.MLP_RESIDUAL.name(nano.config.n_layer - 1)
    for t in range(nano.scene.n_tokens):
        got = logit_lens(nano.config, nano.params, nano.trace, last, t)
        np.testing.assert_allclose(got, nano.trace.logits[0, t], rtol=1e-6, atol=1e-6)


def test_the_lens_refuses_what_is_not_a_stream(nano):
    with pytest.raises(ValueError, match="not a residual stream"):
        logit_lens(nano.config, nano.params, nano.trace, "logits", 0)
    with pytest.raises(ValueError, match="outside"):
        logit_lens(nano.config, nano.params, nano.trace, LENS, 11)


def test_the_position_is_where_temperature_reshapes_the_bars_most(nano):
    lo, hi = sampling.SWEEP_TEMPERATURES
    first = len(nano.input_text) - 1

    def change(t):
        z = logit_lens(nano.config, nano.params, nano.trace, LENS, t)[None]
        return 0.5 * np.abs(next_token_distribution(z, lo) - next_token_distribution(z, hi)).sum()

    t = most_reshaped_position(nano.config, nano.params, nano.trace, LENS, first, (lo, hi))
    assert first <= t < nano.scene.n_tokens
    assert change(t) == max(change(u) for u in range(first, nano.scene.n_tokens))
    assert change(t) > 0.3  # on the default input: a third of the probability moves


def test_the_sweeps_are_pure_functions_of_progress():
    assert sampling.swept_temperature(0.0) == 0.5 == sampling.swept_temperature(0.1)
    assert sampling.swept_temperature(1.0) == pytest.approx(3.0)
    ts = [sampling.swept_temperature(p) for p in np.linspace(0, 1, 21)]
    assert all(a <= b for a, b in zip(ts, ts[1:], strict=False))
    assert [sampling.swept_top_k(p, 3) for p in (0.0, 0.3, 0.4, 0.6, 0.7, 1.0)] == [
        3,
        3,
        2,
        2,
        1,
        1,
    ]
    assert sampling.draw(np.array([0.2, 0.5, 0.3]), 0.1) == 0
    assert sampling.draw(np.array([0.2, 0.5, 0.3]), 0.69) == 1
    assert sampling.draw(np.array([0.2, 0.5, 0.3]), 0.71) == 2


def _moment(chapter, nano, step: int, p: float):
    start = camera_preset("overview", nano.scene, W, H)
    return frame_at(chapter, step, p, nano, Framing(W, H), start)


def _kind(chapter, sweep: str) -> int:
    return next(i for i, s in enumerate(chapter.steps) if s.animation.get("sweep") == sweep)


def test_the_temperature_step_sweeps_and_the_bars_follow(chapter, nano):
    k = _kind(chapter, "temperature")
    assert chapter.steps[k].animation.get("lens") == LENS
    bars, shown_t = [], []
    for p in np.linspace(0, 1, 11):
        frame = _moment(chapter, nano, k, p)
        T = sampling.swept_temperature(p)
        z = logit_lens(nano.config, nano.params, nano.trace, LENS, frame.t)
        want = next_token_distribution(z[None], T)[0]
        assert frame.bars is not None
        np.testing.assert_allclose([b for _, b in frame.bars], want)
        assert [name for name, _ in frame.bars] == list(nano.config.vocab)
        caption = " ".join(frame.caption)
        assert f"T = {T:.2f}" in caption and "top-k = all" in caption
        assert f"logit lens on {LENS} at t = {frame.t}" in caption
        bars.append(want)
        shown_t.append(frame.t)
    assert len(set(shown_t)) == 1
    # visibly reshaped: the top bar loses at least a fifth of the probability over the sweep
    top = int(np.argmax(bars[0]))
    assert bars[0][top] - bars[-1][top] > 0.2
    assert bars[0][top] > 0.95  # T = 0.5 sharpens ...
    assert bars[-1][top] < 0.75  # ... T = 3 flattens
    assert "sampled (T = 0.50" in " ".join(_moment(chapter, nano, k, 0.0).caption)


def test_the_top_k_step_drops_bars_until_greedy(chapter, nano):
    k = _kind(chapter, "top_k")
    V = nano.config.vocab_size
    counts = []
    for p in (0.0, 0.5, 1.0):
        frame = _moment(chapter, nano, k, p)
        probs = np.array([b for _, b in frame.bars or []])
        assert probs.sum() == pytest.approx(1.0)
        counts.append(int((probs > 0).sum()))
        caption = " ".join(frame.caption)
        assert "T = 3.00" in caption
        assert f"top-k = {sampling.swept_top_k(p, V)}" in caption
    assert counts == [3, 2, 1]
    assert "greedy (T = 3.00, top-k = 1)" in " ".join(_moment(chapter, nano, k, 1.0).caption)


def test_the_plain_bars_step_says_what_the_app_did(chapter, nano):
    k = next(i for i, s in enumerate(chapter.steps) if s.animation.kind == "sample")
    frame = _moment(chapter, nano, k, 1.0)
    assert frame.caption[0].startswith("greedy choice at t = 5: 'A'")
    assert frame.caption[1].startswith("at T = 3 the bars would read A 0.998")


@pytest.mark.gl
@pytest.mark.parametrize(
    "n",
    [1, 2, 3, 4, 5],
)
def test_every_sampling_step_frames_its_subject(chapter, tmp_path, n):
    """In the render at progress 1 (1280x720) each step's highlighted tensors span at least
    40 % of the free area's width or height and at least 90 % of them lies inside it."""
    assert len(chapter.steps) == 5
    step = chapter.steps[n - 1]
    assert step.highlight, f"step {n} names no subject"
    report = tmp_path / f"r{n}.json"
    r = llmviz(
        "render", "--out", str(tmp_path / f"s{n}.png"), "--size", f"{W}x{H}",
        "--chapter", "sampling", "--step", str(n), "--report", str(report),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    subject = json.loads(report.read_text())["walkthrough"]["subject"]
    assert set(step.highlight) <= set(subject["tensors"]), n
    assert subject["span"] >= MIN_SPAN, (n, subject)
    assert subject["inside"] >= MIN_INSIDE, (n, subject)
