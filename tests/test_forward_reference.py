"""The production forward pass against an independent float64 reference written here.

The reference is deliberately plain: explicit Python loops over batch, position, head and key,
np.einsum for the linear layers, and nothing imported from the model package except the
config constructors and init_params. It implements GPT-2 semantics from the paper / Hugging Face
GPT2LMHeadModel: pre-LN blocks, causal softmax attention scaled by 1/sqrt(D), tanh GELU
("gelu_new"), a final layer norm and the (possibly tied) unembedding. Every traced tensor is
compared one by one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmviz_desktop.model.config import GPTConfig, preset
from llmviz_desktop.model.gpt import forward
from llmviz_desktop.model.params import init_params

# ---- test inputs -------------------------------------------------------------------------


def random_params(cfg: GPTConfig, seed: int) -> dict[str, np.ndarray]:
    """Parameters with the production names and shapes (from init_params) but values that make
    every part of the model matter: non-unit layer-norm gains, non-zero biases everywhere, and
    weights large enough that attention is far from uniform and GELU is in its curved range."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, value in init_params(cfg, seed, np.float64).items():
        if name.endswith(".bias"):
            new = rng.normal(0.0, 0.3, value.shape)
        elif value.ndim == 1:  # layer-norm gain
            new = 1.0 + rng.normal(0.0, 0.3, value.shape)
        elif name in ("wte.weight", "wpe.weight"):
            new = rng.normal(0.0, 1.0, value.shape)
        else:  # linear weights [in, out] and lm_head [V, C]: unit-variance outputs
            fan_in = value.shape[1] if name == "lm_head.weight" else value.shape[0]
            new = rng.normal(0.0, 1.0 / math.sqrt(fan_in), value.shape)
        params[name] = new
    return params


NANO = preset("nano-sort")
TIED = GPTConfig(
    name="tied", n_layer=2, n_head=4, n_embd=16, vocab_size=7, block_size=9,
    tie_word_embeddings=True, layer_norm_epsilon=1e-3,
)  # fmt: skip
NO_BIAS = GPTConfig(
    name="no-bias", n_layer=2, n_head=2, n_embd=8, vocab_size=5, block_size=6, bias=False
)

CASES = {
    # the shipped preset, a batch of three different full-length sequences
    "nano-sort": (
        NANO,
        [
            [0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 2],
            [2, 2, 1, 0, 0, 0, 1, 2, 0, 1, 1],
            [1, 0, 2, 2, 0, 1, 0, 0, 1, 1, 2],
        ],
    ),
    # tied embeddings, a sequence shorter than the context (wpe rows past T unused)
    "tied": (TIED, [[6, 0, 3, 3, 1, 5, 2], [0, 1, 2, 3, 4, 5, 6]]),
    # no biases in linear layers or layer norms
    "no-bias": (NO_BIAS, [[4, 3, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 2, 4, 1, 3, 0]]),
    # a single token per sequence: every attention row has one key
    "one-token": (TIED, [[3], [5], [0], [6]]),
}


# ---- the reference -----------------------------------------------------------------------


def ref_layer_norm(x, weight, bias, eps):
    """x [B, T, C] -> mean [B, T], rstd [B, T], out [B, T, C]; biased variance, eps inside."""
    B, T, C = x.shape
    mean = np.zeros((B, T))
    rstd = np.zeros((B, T))
    out = np.zeros((B, T, C))
    for b in range(B):
        for t in range(T):
            row = x[b, t]
            mu = math.fsum(row) / C
            var = math.fsum((c - mu) ** 2 for c in row) / C
            r = 1.0 / math.sqrt(var + eps)
            mean[b, t], rstd[b, t] = mu, r
            out[b, t] = (row - mu) * r * weight + (0.0 if bias is None else bias)
    return mean, rstd, out


def ref_linear(x, weight, bias):
    """Hugging Face Conv1D: weight [in, out], y = x @ W + b."""
    y = np.einsum("bti,io->bto", x, weight)
    return y if bias is None else y + bias


def ref_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def ref_softmax_row(row):
    m = max(row)
    e = [math.exp(z - m) for z in row]
    s = math.fsum(e)
    return [z / s for z in e]


def reference_forward(cfg: GPTConfig, params, tokens) -> dict[str, np.ndarray]:
    tokens = np.asarray(tokens)
    B, T = tokens.shape
    C, H, V = cfg.n_embd, cfg.n_head, cfg.vocab_size
    D = C // H
    eps = cfg.layer_norm_epsilon
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    out: dict[str, np.ndarray] = {}

    def bias(name):
        return P.get(name) if cfg.bias else None

    tok_emb = np.zeros((B, T, C))
    for b in range(B):
        for t in range(T):
            tok_emb[b, t] = P["wte.weight"][tokens[b, t]]
    pos_emb = np.array([P["wpe.weight"][t] for t in range(T)])
    x = tok_emb + pos_emb[None]
    out["tok_emb"], out["pos_emb"], out["emb"] = tok_emb, pos_emb, x

    for i in range(cfg.n_layer):
        pre = f"h.{i}"
        mean, rstd, a = ref_layer_norm(x, P[f"{pre}.ln_1.weight"], bias(f"{pre}.ln_1.bias"), eps)
        out[f"{pre}.ln_1.mean"], out[f"{pre}.ln_1.rstd"], out[f"{pre}.ln_1.out"] = mean, rstd, a

        qkv = ref_linear(a, P[f"{pre}.attn.c_attn.weight"], bias(f"{pre}.attn.c_attn.bias"))
        y = np.zeros((B, T, C))  # heads side by side
        for h in range(H):
            q = qkv[:, :, 0 * C + h * D : 0 * C + (h + 1) * D]
            k = qkv[:, :, 1 * C + h * D : 1 * C + (h + 1) * D]
            v = qkv[:, :, 2 * C + h * D : 2 * C + (h + 1) * D]
            scores = np.full((B, T, T), -np.inf)
            smax = np.zeros((B, T))
            esum = np.zeros((B, T))
            probs = np.zeros((B, T, T))
            head_out = np.zeros((B, T, D))
            for b in range(B):
                for t in range(T):
                    for s in range(t + 1):  # causal: query t sees keys 0..t
                        scores[b, t, s] = float(np.dot(q[b, t], k[b, s])) / math.sqrt(D)
                    row = [scores[b, t, s] for s in range(t + 1)]
                    smax[b, t] = max(row)
                    esum[b, t] = math.fsum(math.exp(z - smax[b, t]) for z in row)
                    for s, p in enumerate(ref_softmax_row(row)):
                        probs[b, t, s] = p
                        head_out[b, t] += p * v[b, s]
            hp = f"{pre}.attn.head{h}"
            out[f"{hp}.q"], out[f"{hp}.k"], out[f"{hp}.v"] = q, k, v
            out[f"{hp}.scores"], out[f"{hp}.max"], out[f"{hp}.expsum"] = scores, smax, esum
            out[f"{hp}.probs"], out[f"{hp}.out"] = probs, head_out
            y[:, :, h * D : (h + 1) * D] = head_out
        proj = ref_linear(y, P[f"{pre}.attn.c_proj.weight"], bias(f"{pre}.attn.c_proj.bias"))
        x = x + proj
        out[f"{pre}.attn.proj"], out[f"{pre}.attn.residual"] = proj, x

        mean, rstd, m = ref_layer_norm(x, P[f"{pre}.ln_2.weight"], bias(f"{pre}.ln_2.bias"), eps)
        out[f"{pre}.ln_2.mean"], out[f"{pre}.ln_2.rstd"], out[f"{pre}.ln_2.out"] = mean, rstd, m
        fc = ref_linear(m, P[f"{pre}.mlp.c_fc.weight"], bias(f"{pre}.mlp.c_fc.bias"))
        g = ref_gelu(fc)
        mp = ref_linear(g, P[f"{pre}.mlp.c_proj.weight"], bias(f"{pre}.mlp.c_proj.bias"))
        x = x + mp
        out[f"{pre}.mlp.fc"], out[f"{pre}.mlp.gelu"] = fc, g
        out[f"{pre}.mlp.proj"], out[f"{pre}.mlp.residual"] = mp, x

    mean, rstd, xf = ref_layer_norm(x, P["ln_f.weight"], bias("ln_f.bias"), eps)
    out["ln_f.mean"], out["ln_f.rstd"], out["ln_f.out"] = mean, rstd, xf
    unembed = P["wte.weight"] if cfg.tie_word_embeddings else P["lm_head.weight"]  # [V, C]
    logits = np.zeros((B, T, V))
    probs = np.zeros((B, T, V))
    for b in range(B):
        for t in range(T):
            for j in range(V):
                logits[b, t, j] = float(np.dot(xf[b, t], unembed[j]))
            probs[b, t] = ref_softmax_row(list(logits[b, t]))
    out["logits"], out["probs"] = logits, probs
    return out


def expected_axes(cfg: GPTConfig) -> dict[str, tuple[str, ...]]:
    """Every trace name the app relies on, with the axes it must be labelled with."""
    ax: dict[str, tuple[str, ...]] = {
        "tok_emb": ("B", "T", "C"),
        "pos_emb": ("T", "C"),
        "emb": ("B", "T", "C"),
    }

    def ln(prefix):
        ax[f"{prefix}.mean"] = ("B", "T")
        ax[f"{prefix}.rstd"] = ("B", "T")
        ax[f"{prefix}.out"] = ("B", "T", "C")

    for i in range(cfg.n_layer):
        ln(f"h.{i}.ln_1")
        for h in range(cfg.n_head):
            hp = f"h.{i}.attn.head{h}"
            for n in ("q", "k", "v", "out"):
                ax[f"{hp}.{n}"] = ("B", "T", "D")
            ax[f"{hp}.scores"] = ("B", "T", "T_k")
            ax[f"{hp}.probs"] = ("B", "T", "T_k")
            ax[f"{hp}.max"] = ("B", "T")
            ax[f"{hp}.expsum"] = ("B", "T")
        ax[f"h.{i}.attn.proj"] = ("B", "T", "C")
        ax[f"h.{i}.attn.residual"] = ("B", "T", "C")
        ln(f"h.{i}.ln_2")
        ax[f"h.{i}.mlp.fc"] = ("B", "T", "4C")
        ax[f"h.{i}.mlp.gelu"] = ("B", "T", "4C")
        ax[f"h.{i}.mlp.proj"] = ("B", "T", "C")
        ax[f"h.{i}.mlp.residual"] = ("B", "T", "C")
    ln("ln_f")
    ax["logits"] = ("B", "T", "vocab")
    ax["probs"] = ("B", "T", "vocab")
    return ax


def assert_close(name, actual, expected, rtol, atol_rel):
    """Compare one traced tensor. -inf (masked scores) must match exactly in position.

    atol is atol_rel times the tensor's largest finite magnitude. Many traced values are
    differences of much larger numbers (layer-norm means, residual-stream sums, scores that
    are dot products of O(1) vectors landing near 0), so their absolute rounding error scales
    with the magnitude of the operands, not of the result: a pure rtol would fail on entries
    that happen to land near zero. Tying atol to the tensor's scale keeps that allowance tiny
    (for float64, atol_rel = 1e-7 is still ~1e8 times float64 rounding) while any real
    semantic error (wrong mask, wrong scale, wrong head slice) shows up at O(scale)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, (name, actual.shape, expected.shape)
    finite = np.isfinite(expected)
    scale = float(np.abs(expected[finite]).max()) if finite.any() else 0.0
    np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=name)
    np.testing.assert_array_equal(actual[~finite], expected[~finite], err_msg=name)
    np.testing.assert_allclose(
        actual[finite], expected[finite], rtol=rtol, atol=atol_rel * scale, err_msg=name
    )


# ---- tests -------------------------------------------------------------------------------


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request):
    cfg, tokens = CASES[request.param]
    tokens = np.array(tokens, dtype=np.int64)
    params = random_params(cfg, seed=sum(map(ord, request.param)))
    return cfg, params, tokens


def test_cases_cover_what_they_claim():
    assert not NANO.tie_word_embeddings and TIED.tie_word_embeddings and not NO_BIAS.bias
    assert "lm_head.weight" in init_params(NANO, 0) and "lm_head.weight" not in init_params(TIED, 0)
    assert not any(name.endswith(".bias") for name in init_params(NO_BIAS, 0))
    for cfg, tokens in CASES.values():
        tokens = np.array(tokens)
        assert len({tuple(row) for row in tokens}) == len(tokens) > 1  # distinct sequences
        assert tokens.min() >= 0 and tokens.max() < cfg.vocab_size


def test_random_params_are_away_from_init(case):
    cfg, params, _ = case
    init = init_params(cfg, 0, np.float64)
    assert set(params) == set(init)
    for name, value in params.items():
        assert value.shape == init[name].shape, name
        if value.ndim == 1:  # biases are initialised to 0, layer-norm gains to 1
            assert np.all(value != init[name]), name
            assert np.abs(value - init[name]).mean() > 0.1, name


def test_float64_forward_matches_reference(case):
    cfg, params, tokens = case
    before = {k: v.copy() for k, v in params.items()}
    trace = forward(cfg, params, tokens, dtype=np.float64)
    ref = reference_forward(cfg, params, tokens)
    assert set(trace.names()) == set(ref) == set(expected_axes(cfg))
    for name, expected in ref.items():
        assert trace[name].dtype == np.float64, name
        assert_close(name, trace[name], expected, rtol=1e-5, atol_rel=1e-7)
    for k, v in params.items():  # forward must not modify the parameters
        np.testing.assert_array_equal(v, before[k])


def test_float64_forward_is_much_tighter_than_required(case):
    """rtol 1e-5 must hold easily: the float64 forward agrees with the reference to ~1e-10,
    so the 1e-5 tolerance above is not hiding a small systematic error."""
    cfg, params, tokens = case
    trace = forward(cfg, params, tokens, dtype=np.float64)
    ref = reference_forward(cfg, params, tokens)
    for name, expected in ref.items():
        assert_close(name, trace[name], expected, rtol=1e-10, atol_rel=1e-12)


def test_float32_forward_is_float32_and_close(case):
    """The default dtype is float32 end to end (no silent upcast) and within float32 accuracy.

    rtol 1e-4 is ~1000 float32 ulps: rounding accumulated over a few layers of layer norm,
    matmuls and softmax stays well below it. atol_rel 1e-5 plays the role 1e-7 plays for
    float64 (entries near zero that are differences of O(scale) operands)."""
    cfg, params, tokens = case
    trace = forward(cfg, params, tokens)
    ref = reference_forward(cfg, params, tokens)
    assert set(trace.names()) == set(ref)
    for name, expected in ref.items():
        assert trace[name].dtype == np.float32, (name, trace[name].dtype)
        assert_close(name, trace[name], expected, rtol=1e-4, atol_rel=1e-5)


def test_float32_params_default_forward(case):
    """Float32 parameters as init_params makes them by default: output stays float32."""
    cfg, _, tokens = case
    params = init_params(cfg, 3)
    assert all(v.dtype == np.float32 for v in params.values())
    trace = forward(cfg, params, tokens)
    ref = reference_forward(cfg, params, tokens)
    for name, expected in ref.items():
        assert trace[name].dtype == np.float32, name
        assert_close(name, trace[name], expected, rtol=1e-4, atol_rel=1e-5)


def test_trace_names_axes_and_shapes(case):
    cfg, params, tokens = case
    trace = forward(cfg, params, tokens, dtype=np.float64)
    B, T = tokens.shape
    sizes = {
        "B": B,
        "T": T,
        "T_k": T,
        "C": cfg.n_embd,
        "D": cfg.n_embd // cfg.n_head,
        "4C": 4 * cfg.n_embd,
        "vocab": cfg.vocab_size,
    }
    expected = expected_axes(cfg)
    assert set(trace.names()) == set(expected)
    assert len(trace.names()) == len(expected)
    for name, axes in expected.items():
        assert name in trace
        assert trace.axes(name) == axes, name
        assert trace[name].shape == tuple(sizes[a] for a in axes), name
    np.testing.assert_array_equal(trace.tokens, tokens)
    assert trace.logits is trace["logits"]


def test_causal_mask_cells(case):
    """Masked scores (key after query) are exactly -inf, their probabilities exactly 0; every
    visible cell is finite with a positive probability; rows sum to 1."""
    cfg, params, tokens = case
    T = tokens.shape[1]
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # [T, T_k], True where s > t
    for dtype in (np.float64, np.float32):
        trace = forward(cfg, params, tokens, dtype=dtype)
        for i in range(cfg.n_layer):
            for h in range(cfg.n_head):
                hp = f"h.{i}.attn.head{h}"
                scores, probs = trace[f"{hp}.scores"], trace[f"{hp}.probs"]
                assert np.all(scores[:, future] == -np.inf), hp
                assert np.all(probs[:, future] == 0.0), hp
                assert np.all(np.isfinite(scores[:, ~future])), hp
                assert np.all(probs[:, ~future] > 0.0), hp
                rtol = 1e-6 if dtype is np.float32 else 1e-12
                np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=rtol)
                # the traced max is the max over the visible keys
                np.testing.assert_array_equal(trace[f"{hp}.max"], scores.max(-1))
        np.testing.assert_allclose(trace["probs"].sum(-1), 1.0, rtol=1e-6)


def test_batch_rows_are_independent(case):
    """Each sequence in a batch gives the same trace as it does alone (no cross-batch mixing)."""
    cfg, params, tokens = case
    full = forward(cfg, params, tokens, dtype=np.float64)
    for b in range(tokens.shape[0]):
        alone = forward(cfg, params, tokens[b], dtype=np.float64)  # 1-D tokens: one sequence
        for name in full.names():
            if full.axes(name)[0] == "B":
                np.testing.assert_allclose(
                    alone[name][0], full[name][b], rtol=1e-12, atol=1e-12, err_msg=name
                )


def test_extreme_logit_gaps_underflow_quietly_under_raise():
    """exp underflowing to 0 is intended: confident models must not trip np.seterr('raise')."""
    from llmviz_desktop.model.gpt import cross_entropy, softmax

    loss, dlogits = cross_entropy(np.array([[[0.0, -90.0, 1.0]]], np.float32), np.array([[0]]))
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    np.testing.assert_array_equal(softmax(np.array([0.0, -800.0])), [1.0, 0.0])
