"""The hand-written backward pass against central finite differences, in float64.

The loss on the finite-difference side is computed here (a plain masked mean cross-entropy on
the production forward's logits), so cross_entropy's loss value and its dlogits are checked
too, not assumed. Every parameter tensor is checked; tensors with more than MAX_ENTRIES entries
are checked on a random subset of MAX_ENTRIES entries.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmviz_desktop.model.backward import backward
from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.gpt import cross_entropy, forward
from llmviz_desktop.model.params import init_params, param_specs

BASE = dict(n_layer=2, n_head=2, n_embd=8, vocab_size=5, block_size=6)
CONFIGS = {
    "untied": GPTConfig(name="untied", tie_word_embeddings=False, **BASE),
    "tied": GPTConfig(name="tied", tie_word_embeddings=True, **BASE),
    "tied-no-bias": GPTConfig(name="tied-no-bias", tie_word_embeddings=True, bias=False, **BASE),
}

# T = 5 < block_size = 6, so the last wpe row is unused and must get an exactly zero gradient.
TOKENS = np.array([[0, 1, 2, 3, 4], [4, 4, 1, 0, 2], [2, 3, 3, 1, 0]])
# -1 = not counted: a partly masked row, a mostly masked row and a fully masked row.
TARGETS = np.array([[-1, -1, 3, 4, 0], [1, -1, 2, -1, 3], [-1, -1, -1, -1, -1]])

MAX_ENTRIES = 40
STEP = 3e-4
REL_TOL = 1e-6
# Entries whose true gradient is (mathematically) zero: the key bias of c_attn (q . b_k is the
# same for every key, and softmax ignores a constant shift), the unused wpe row. There both
# sides are rounding noise (up to ~1e-11 here); relative error is meaningless, so the
# denominator is floored at 1e-4: entries below it are held to an absolute error of 1e-10,
# entries above it (the vast majority, typically 1e-1 .. 1e-3) to relative error 1e-6.
DENOM_FLOOR = 1e-4


def random_params(cfg: GPTConfig, seed: int) -> dict[str, np.ndarray]:
    """float64 parameters with every part mattering: non-unit gains, non-zero biases, weights
    big enough that attention is peaked and GELU curved (init's 0.02 would make it near-linear)."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, value in init_params(cfg, seed, np.float64).items():
        if name.endswith(".bias"):
            params[name] = rng.normal(0.0, 0.3, value.shape)
        elif value.ndim == 1:
            params[name] = 1.0 + rng.normal(0.0, 0.3, value.shape)
        elif name in ("wte.weight", "wpe.weight"):
            params[name] = rng.normal(0.0, 1.0, value.shape)
        else:
            fan_in = value.shape[1] if name == "lm_head.weight" else value.shape[0]
            params[name] = rng.normal(0.0, 1.0 / math.sqrt(fan_in), value.shape)
    return params


def masked_mean_ce(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean of -log softmax(logits)[target] over positions with target >= 0."""
    total, count = 0.0, 0
    B, T, _ = logits.shape
    for b in range(B):
        for t in range(T):
            if targets[b, t] < 0:
                continue
            row = logits[b, t]
            m = row.max()
            logz = m + math.log(math.fsum(np.exp(row - m)))
            total += logz - row[targets[b, t]]
            count += 1
    return total / max(count, 1)


def loss_of(cfg, params) -> float:
    return masked_mean_ce(forward(cfg, params, TOKENS, dtype=np.float64).logits, TARGETS)


def numeric_grad(cfg, params, name, idx) -> float:
    """Five-point central difference, O(h^4): with h = 3e-4 truncation (~h^4 f^(5)) and rounding
    (~1e-16 / h) are both ~1e-12, well under REL_TOL times a typical gradient entry."""
    p = params[name]
    old = p[idx]
    f = {}
    for k in (-2, -1, 1, 2):
        p[idx] = old + k * STEP
        f[k] = loss_of(cfg, params)
    p[idx] = old
    return (8.0 * (f[1] - f[-1]) - (f[2] - f[-2])) / (12.0 * STEP)


def entries(shape, rng) -> list[tuple[int, ...]]:
    all_idx = list(np.ndindex(shape))
    if len(all_idx) <= MAX_ENTRIES:
        return all_idx
    pick = rng.choice(len(all_idx), size=MAX_ENTRIES, replace=False)
    return [all_idx[i] for i in sorted(pick)]


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def setup(request):
    cfg = CONFIGS[request.param]
    params = random_params(cfg, seed=7)
    trace = forward(cfg, params, TOKENS, dtype=np.float64)
    loss, dlogits = cross_entropy(trace.logits, TARGETS)
    grads = backward(trace, params, dlogits)
    return cfg, params, trace, loss, dlogits, grads


def test_inputs_exercise_masking():
    assert TOKENS.shape[1] < BASE["block_size"]
    assert (TARGETS == -1).any() and (TARGETS >= 0).any()
    assert (TARGETS == -1).all(axis=1).any()  # a fully masked row


def test_cross_entropy_loss_and_dlogits(setup):
    cfg, params, trace, loss, dlogits, _ = setup
    assert isinstance(loss, float)
    assert loss == pytest.approx(masked_mean_ce(trace.logits, TARGETS), rel=1e-12)
    assert dlogits.dtype == np.float64 and dlogits.shape == trace.logits.shape
    assert np.all(dlogits[TARGETS < 0] == 0.0)  # masked positions contribute nothing
    # counted rows: (softmax - onehot) / n
    n = int((TARGETS >= 0).sum())
    for b, t in zip(*np.nonzero(TARGETS >= 0), strict=True):
        z = trace.logits[b, t]
        p = np.exp(z - z.max())
        p /= p.sum()
        p[TARGETS[b, t]] -= 1.0
        np.testing.assert_allclose(dlogits[b, t], p / n, rtol=1e-12, atol=1e-15)


def test_cross_entropy_all_masked_is_zero():
    logits = np.random.default_rng(0).normal(size=(2, 3, 4))
    loss, dlogits = cross_entropy(logits, -np.ones((2, 3), dtype=np.int64))
    assert loss == 0.0
    assert np.all(dlogits == 0.0)


def test_grads_cover_every_parameter(setup):
    cfg, params, _, _, _, grads = setup
    names = [s.name for s in param_specs(cfg)]
    assert set(params) == set(names)
    assert set(grads) == set(params)
    for name in names:
        assert grads[name].shape == params[name].shape, name
        assert grads[name].dtype == np.float64, name
    assert ("lm_head.weight" in grads) == (not cfg.tie_word_embeddings)
    # the wpe rows past T are never used
    assert np.all(grads["wpe.weight"][TOKENS.shape[1] :] == 0.0)


def test_gradcheck_every_tensor(setup):
    cfg, params, _, loss, _, grads = setup
    assert loss == pytest.approx(loss_of(cfg, params), rel=1e-12)
    rng = np.random.default_rng(0)
    failures = []
    checked = 0
    for name in params:
        for idx in entries(params[name].shape, rng):
            analytic = float(grads[name][idx])
            numeric = numeric_grad(cfg, params, name, idx)
            denom = max(abs(analytic), abs(numeric), DENOM_FLOOR)
            rel = abs(analytic - numeric) / denom
            checked += 1
            if not rel < REL_TOL:
                failures.append(f"{name}{list(idx)}: analytic {analytic:.10e} "
                                f"numeric {numeric:.10e} rel {rel:.2e}")  # fmt: skip
    assert checked >= len(params)
    assert not failures, "\n".join(failures[:20])


def test_float32_backward_matches_float64(setup):
    """The training path runs in float32: same gradients to float32 accuracy, float32 dtype."""
    cfg, params, _, _, _, grads64 = setup
    trace = forward(cfg, params, TOKENS)  # float32
    _, dlogits = cross_entropy(trace.logits, TARGETS)
    assert dlogits.dtype == np.float32
    grads = backward(trace, params, dlogits)
    scale = max(float(np.abs(g).max()) for g in grads64.values())
    for name, g in grads.items():
        assert g.dtype == np.float32, name
        # float32 rounding through a 2-layer forward + backward: ~3e-7 relative to the
        # overall gradient scale; 1e-5 leaves a wide margin yet catches any real error.
        np.testing.assert_allclose(g, grads64[name], rtol=1e-3, atol=1e-5 * scale, err_msg=name)
