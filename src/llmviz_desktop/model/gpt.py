"""GPT-2 forward pass in numpy, returning a Trace of every intermediate the app draws.

Shapes: B batch, T positions, C = n_embd, H heads, D = C // H head dim, V vocabulary.
Weights are [in, out] (Hugging Face Conv1D layout) and applied as x @ W + b.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import activations as A
from .config import TANH_GELU, GPTConfig
from .params import Params, lm_head

# Python floats, not numpy scalars: under NEP 50 a np.float64 scalar would upcast float32.
GELU_A = float(np.sqrt(2.0 / np.pi))
GELU_B = 0.044715
# exp of a very negative number underflowing to 0 is the intended result, never an error
_UNDERFLOW_OK = np.errstate(under="ignore")


@dataclass(frozen=True)
class TraceTensor:
    name: str  # e.g. "h.1.attn.head2.q"
    value: np.ndarray
    axes: tuple[str, ...]  # one name per axis: B, T, T_k, C, D, 4C, vocab

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)


@dataclass
class Trace:
    """Every named intermediate of one (batched) forward pass, in computation order.

    `cache` holds the extra arrays the backward pass needs (e.g. normalised inputs, the
    heads stacked as [B, H, T, D]); it is not part of what the app shows.
    """

    config: GPTConfig
    tokens: np.ndarray  # [B, T] token ids
    tensors: dict[str, TraceTensor] = field(default_factory=dict)
    cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def add(self, name: str, value: np.ndarray, axes: tuple[str, ...]) -> np.ndarray:
        assert value.ndim == len(axes), (name, value.shape, axes)
        self.tensors[name] = TraceTensor(name, value, axes)
        return value

    def put(
        self, spec: A.Spec, value: np.ndarray, layer: int | None = None, head: int | None = None
    ) -> np.ndarray:
        """add() under the table's name and axes for `spec` (model/activations.py)."""
        return self.add(spec.name(layer, head), value, spec.axes)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name].value

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def __iter__(self) -> Iterator[TraceTensor]:
        return iter(self.tensors.values())

    def names(self) -> list[str]:
        return list(self.tensors)

    def axes(self, name: str) -> tuple[str, ...]:
        return self.tensors[name].axes

    @property
    def logits(self) -> np.ndarray:
        return self[A.LOGITS.name()]


def gelu(x: np.ndarray) -> np.ndarray:
    """GPT-2's tanh approximation of GELU."""
    # x * x * x, not x**3: float32 power is ~200x slower in numpy
    return 0.5 * x * (1.0 + np.tanh(GELU_A * (x + GELU_B * x * x * x)))


# fdlibm's s_erf.c rational approximations (error < 1 ulp in float64), for the exact GELU.
# fmt: off
_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e01,
       -6.23753324503260060396e01, -1.62396669462573470355e02, -1.84605092906711035994e02,
       -8.12874355063065934246e01, -9.81432934416914548592e00)
_SA = (1.0, 1.96512716674392571292e01, 1.37657754143519042600e02, 4.34565877475229228821e02,
       6.45387271733267880336e02, 4.29008140027567833386e02, 1.08635005541779435134e02,
       6.57024977031928170135e00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e01,
       -1.60636384855821916062e02, -6.37566443368389627722e02, -1.02509513161107724954e03,
       -4.83519191608651397019e02)
_SB = (1.0, 3.03380607434824582924e01, 3.25792512996573918826e02, 1.53672958608443695994e03,
       3.19985821950859553908e03, 2.55305040643316442583e03, 4.74528541206955367215e02,
       -2.24409524465858183362e01)
# fmt: on


def _poly(coeffs: tuple[float, ...], s: np.ndarray) -> np.ndarray:
    out = np.full_like(s, coeffs[-1])
    for c in coeffs[-2::-1]:  # Horner
        out = out * s + c
    return out


@np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore")
def erf_erfc(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(erf(z), erfc(z)) in float64 for z >= 0, each to within an ulp or two (fdlibm's
    algorithm; numpy has no erf). erfc is computed directly, so it keeps its relative accuracy
    far into the tail where 1 - erf(z) would be 0."""
    z = np.asarray(z, dtype=np.float64)
    small = z < 0.84375
    mid = (z >= 0.84375) & (z < 1.25)
    y = _poly(_PP, z * z) / _poly(_QQ, z * z)  # erf(z) = z + z*y on [0, 0.84375)
    erf_small = z + z * y
    erfc_small = np.where(z < 0.25, 1.0 - erf_small, 0.5 - (z * y + (z - 0.5)))
    pq = _poly(_PA, z - 1.0) / _poly(_QA, z - 1.0)  # erf(z) = erx + P/Q on [0.84375, 1.25)
    s = 1.0 / (z * z)
    rs = np.where(
        z < 1.0 / 0.35, _poly(_RA, s) / _poly(_SA, s), _poly(_RB, s) / _poly(_SB, s)
    )  # on [1.25, 28): erfc(z) = exp(-z*z - 0.5625 + R/S) / z, with z*z split for accuracy
    zh = (z.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
    erfc_big = np.exp(-zh * zh - 0.5625) * np.exp((zh - z) * (zh + z) + rs) / z
    erfc_big = np.where(z < 28.0, erfc_big, 0.0)
    erfc = np.where(small, erfc_small, np.where(mid, (1.0 - _ERX) - pq, erfc_big))
    erf = np.where(small, erf_small, np.where(mid, _ERX + pq, 1.0 - erfc_big))
    return erf, erfc


@_UNDERFLOW_OK
def activation(name: str, x: np.ndarray) -> np.ndarray:
    """The MLP nonlinearity named by a GPT-2 config's activation_function, as Hugging Face's
    ACT2FN computes it: gelu_new / gelu_pytorch_tanh = tanh GELU, gelu = exact erf GELU
    x·Φ(x), relu, silu = swish = x·sigmoid(x). Same dtype out as in."""
    if name in TANH_GELU:
        return gelu(x)
    if name == "gelu":  # x·Φ(x), Φ from erf for x >= 0 and erfc for x < 0 (no cancellation)
        x64 = np.asarray(x, dtype=np.float64)
        erf, erfc = erf_erfc(np.abs(x64) * float(np.sqrt(0.5)))
        phi = np.where(x64 >= 0, 0.5 * (1.0 + erf), 0.5 * erfc)
        return (x64 * phi).astype(x.dtype, copy=False)
    if name == "relu":
        return np.maximum(x, 0)
    if name in ("silu", "swish"):  # x·sigmoid(x) = x / (1 + exp(-x)); exp overflow -> x/inf = -0
        with np.errstate(over="ignore"):
            return x / (1.0 + np.exp(-x))
    raise ValueError(f"unknown activation {name!r}")


def attn_scale(cfg: GPTConfig, layer: int) -> float:
    """What block `layer` multiplies q·k by: 1/sqrt(head_dim) unless scale_attn_weights is off,
    and 1/(layer + 1) more with scale_attn_by_inverse_layer_idx (as Hugging Face's GPT-2)."""
    scale = 1.0 / float(np.sqrt(cfg.head_dim)) if cfg.scale_attn_weights else 1.0
    if cfg.scale_attn_by_inverse_layer_idx:
        scale /= float(layer + 1)
    return scale


def _layer_norm(
    trace: Trace, ln: A.LayerNorm, layer: int | None, x: np.ndarray, params: Params, eps: float
):
    mean = x.mean(axis=-1)  # [B, T]
    xc = x - mean[..., None]  # [B, T, C]
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1) + eps)  # [B, T]
    xhat = xc * rstd[..., None]  # [B, T, C]
    out = xhat * params[ln.weight.name(layer)]
    if ln.bias.name(layer) in params:
        out = out + params[ln.bias.name(layer)]
    trace.put(ln.mean, mean, layer)
    trace.put(ln.rstd, rstd, layer)
    trace.put(ln.out, out, layer)
    trace.cache[f"{ln.prefix(layer)}.xhat"] = xhat  # backward's key
    return out


def _linear(x: np.ndarray, params: Params, w: A.Spec, b: A.Spec, layer: int) -> np.ndarray:
    W = params[w.name(layer)]
    # one 2-D GEMM: numpy would loop a small GEMM per leading index of a 3-D operand
    y = (x.reshape(-1, W.shape[0]) @ W).reshape(*x.shape[:-1], W.shape[1])  # [..., out]
    bias = params.get(b.name(layer))
    return y if bias is None else y + bias


@_UNDERFLOW_OK
def forward(cfg: GPTConfig, params: Params, tokens: np.ndarray, dtype=np.float32) -> Trace:
    """Run the model on tokens [B, T] (or [T]) and return the full trace."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim == 1:
        tokens = tokens[None, :]
    B, T = tokens.shape
    if T == 0 or T > cfg.block_size:
        raise ValueError(f"sequence length {T} must be between 1 and {cfg.block_size}")
    if tokens.min() < 0 or tokens.max() >= cfg.vocab_size:
        raise ValueError(f"token ids must be in [0, {cfg.vocab_size})")
    p = {k: np.asarray(v).astype(dtype, copy=False) for k, v in params.items()}
    C, H, D, eps = cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.layer_norm_epsilon
    tr = Trace(cfg, tokens)

    tok_emb = tr.put(A.TOK_EMB, p[A.WTE.name()][tokens])  # [B, T, C]
    pos_emb = tr.put(A.POS_EMB, p[A.WPE.name()][:T])  # [T, C]
    x = tr.put(A.EMB, tok_emb + pos_emb)  # [B, T, C]

    causal = np.tril(np.ones((T, T), dtype=bool))  # [T, T] query t sees keys <= t
    for i in range(cfg.n_layer):
        pre = A.block(i)  # backward's cache keys
        scale = np.dtype(dtype).type(attn_scale(cfg, i))
        tr.cache[f"{pre}.in"] = x
        a = _layer_norm(tr, A.LN_1, i, x, p, eps)  # [B, T, C]
        qkv = _linear(a, p, A.C_ATTN_WEIGHT, A.C_ATTN_BIAS, i)  # [B, T, 3C]
        heads = qkv.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)  # [3, B, H, T, D]
        q, k, v = heads[0], heads[1], heads[2]
        scores = (q @ k.swapaxes(-1, -2)) * scale  # [B, H, T, T]
        scores = np.where(causal, scores, -np.inf)
        smax = scores.max(axis=-1)  # [B, H, T]
        e = np.exp(scores - smax[..., None])  # [B, H, T, T]
        esum = e.sum(axis=-1)  # [B, H, T]
        probs = e / esum[..., None]  # [B, H, T, T]
        yh = probs @ v  # [B, H, T, D]
        for h in range(H):
            tr.put(A.Q, q[:, h], i, h)
            tr.put(A.K, k[:, h], i, h)
            tr.put(A.V, v[:, h], i, h)
            tr.put(A.SCORES, scores[:, h], i, h)
            tr.put(A.SOFTMAX_MAX, smax[:, h], i, h)
            tr.put(A.SOFTMAX_EXPSUM, esum[:, h], i, h)
            tr.put(A.ATTN_PROBS, probs[:, h], i, h)
            tr.put(A.HEAD_OUT, yh[:, h], i, h)
        y = yh.transpose(0, 2, 1, 3).reshape(B, T, C)  # [B, T, C] heads side by side
        tr.cache.update({f"{pre}.q": q, f"{pre}.k": k, f"{pre}.v": v, f"{pre}.probs": probs})
        tr.cache[f"{pre}.attn_y"] = y
        proj = tr.put(A.ATTN_PROJ, _linear(y, p, A.ATTN_C_PROJ_WEIGHT, A.ATTN_C_PROJ_BIAS, i), i)
        x = tr.put(A.ATTN_RESIDUAL, x + proj, i)  # [B, T, C]

        m = _layer_norm(tr, A.LN_2, i, x, p, eps)  # [B, T, C]
        fc = tr.put(A.MLP_FC, _linear(m, p, A.C_FC_WEIGHT, A.C_FC_BIAS, i), i)  # [B, T, 4C]
        if cfg.activation in TANH_GELU:
            t = np.tanh(GELU_A * (fc + GELU_B * fc * fc * fc))  # kept: the backward needs it
            tr.cache[f"{pre}.gelu_tanh"] = t
            g = 0.5 * fc * (1.0 + t)  # = gelu(fc)
        else:
            g = activation(cfg.activation, fc)  # the traced name stays "mlp.gelu"
        g = tr.put(A.MLP_GELU, g, i)
        mp = tr.put(A.MLP_PROJ, _linear(g, p, A.MLP_C_PROJ_WEIGHT, A.MLP_C_PROJ_BIAS, i), i)
        x = tr.put(A.MLP_RESIDUAL, x + mp, i)  # [B, T, C]

    xf = _layer_norm(tr, A.LN_F, None, x, p, eps)  # [B, T, C]
    W = lm_head(cfg, p)  # [V, C]
    logits = (xf.reshape(B * T, C) @ W.T).reshape(B, T, cfg.vocab_size)  # [B, T, V]
    tr.put(A.LOGITS, logits)
    tr.put(A.PROBS, softmax(logits))
    return tr


@_UNDERFLOW_OK
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@_UNDERFLOW_OK
def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over positions whose target is >= 0 (-1 = not counted).

    Returns (loss, dlogits) with dlogits the gradient of the loss w.r.t. logits [B, T, V].
    """
    counted = targets >= 0  # [B, T]
    n = max(int(counted.sum()), 1)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # [B, T, V]
    safe_t = np.where(counted, targets, 0)
    picked = np.take_along_axis(logp, safe_t[..., None], axis=-1)[..., 0]  # [B, T]
    loss = float(-(picked * counted).sum() / n) + 0.0  # + 0.0 turns -0.0 into 0.0
    dlogits = np.exp(logp)  # softmax
    np.put_along_axis(
        dlogits, safe_t[..., None], np.take_along_axis(dlogits, safe_t[..., None], -1) - 1, -1
    )
    dlogits *= (counted / n)[..., None].astype(logits.dtype)
    return loss, dlogits.astype(logits.dtype, copy=False)
