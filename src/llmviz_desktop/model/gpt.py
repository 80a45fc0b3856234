"""GPT-2 forward pass in numpy, returning a Trace of every intermediate the app draws.

Shapes: B batch, T positions, C = n_embd, H heads, D = C // H head dim, V vocabulary.
Weights are [in, out] (Hugging Face Conv1D layout) and applied as x @ W + b.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .config import GPTConfig
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
        return self["logits"]


def gelu(x: np.ndarray) -> np.ndarray:
    """GPT-2's tanh approximation of GELU."""
    # x * x * x, not x**3: float32 power is ~200x slower in numpy
    return 0.5 * x * (1.0 + np.tanh(GELU_A * (x + GELU_B * x * x * x)))


def _layer_norm(trace: Trace, prefix: str, x: np.ndarray, params: Params, eps: float):
    mean = x.mean(axis=-1)  # [B, T]
    xc = x - mean[..., None]  # [B, T, C]
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1) + eps)  # [B, T]
    xhat = xc * rstd[..., None]  # [B, T, C]
    out = xhat * params[f"{prefix}.weight"]
    if f"{prefix}.bias" in params:
        out = out + params[f"{prefix}.bias"]
    trace.add(f"{prefix}.mean", mean, ("B", "T"))
    trace.add(f"{prefix}.rstd", rstd, ("B", "T"))
    trace.add(f"{prefix}.out", out, ("B", "T", "C"))
    trace.cache[f"{prefix}.xhat"] = xhat
    return out


def _linear(x: np.ndarray, params: Params, prefix: str) -> np.ndarray:
    W = params[f"{prefix}.weight"]
    # one 2-D GEMM: numpy would loop a small GEMM per leading index of a 3-D operand
    y = (x.reshape(-1, W.shape[0]) @ W).reshape(*x.shape[:-1], W.shape[1])  # [..., out]
    bias = params.get(f"{prefix}.bias")
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

    tok_emb = tr.add("tok_emb", p["wte.weight"][tokens], ("B", "T", "C"))  # [B, T, C]
    pos_emb = tr.add("pos_emb", p["wpe.weight"][:T], ("T", "C"))  # [T, C]
    x = tr.add("emb", tok_emb + pos_emb, ("B", "T", "C"))  # [B, T, C]

    causal = np.tril(np.ones((T, T), dtype=bool))  # [T, T] query t sees keys <= t
    scale = np.dtype(dtype).type(1.0 / np.sqrt(D))
    for i in range(cfg.n_layer):
        pre = f"h.{i}"
        tr.cache[f"{pre}.in"] = x
        a = _layer_norm(tr, f"{pre}.ln_1", x, p, eps)  # [B, T, C]
        qkv = _linear(a, p, f"{pre}.attn.c_attn")  # [B, T, 3C]
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
            hp = f"{pre}.attn.head{h}"
            tr.add(f"{hp}.q", q[:, h], ("B", "T", "D"))
            tr.add(f"{hp}.k", k[:, h], ("B", "T", "D"))
            tr.add(f"{hp}.v", v[:, h], ("B", "T", "D"))
            tr.add(f"{hp}.scores", scores[:, h], ("B", "T", "T_k"))
            tr.add(f"{hp}.max", smax[:, h], ("B", "T"))
            tr.add(f"{hp}.expsum", esum[:, h], ("B", "T"))
            tr.add(f"{hp}.probs", probs[:, h], ("B", "T", "T_k"))
            tr.add(f"{hp}.out", yh[:, h], ("B", "T", "D"))
        y = yh.transpose(0, 2, 1, 3).reshape(B, T, C)  # [B, T, C] heads side by side
        tr.cache.update({f"{pre}.q": q, f"{pre}.k": k, f"{pre}.v": v, f"{pre}.probs": probs})
        tr.cache[f"{pre}.attn_y"] = y
        proj = tr.add(f"{pre}.attn.proj", _linear(y, p, f"{pre}.attn.c_proj"), ("B", "T", "C"))
        x = tr.add(f"{pre}.attn.residual", x + proj, ("B", "T", "C"))  # [B, T, C]

        m = _layer_norm(tr, f"{pre}.ln_2", x, p, eps)  # [B, T, C]
        fc = tr.add(f"{pre}.mlp.fc", _linear(m, p, f"{pre}.mlp.c_fc"), ("B", "T", "4C"))
        t = np.tanh(GELU_A * (fc + GELU_B * fc * fc * fc))  # kept: the backward pass needs it
        tr.cache[f"{pre}.gelu_tanh"] = t
        g = tr.add(f"{pre}.mlp.gelu", 0.5 * fc * (1.0 + t), ("B", "T", "4C"))  # = gelu(fc)
        mp = tr.add(f"{pre}.mlp.proj", _linear(g, p, f"{pre}.mlp.c_proj"), ("B", "T", "C"))
        x = tr.add(f"{pre}.mlp.residual", x + mp, ("B", "T", "C"))  # [B, T, C]

    xf = _layer_norm(tr, "ln_f", x, p, eps)  # [B, T, C]
    W = lm_head(cfg, p)  # [V, C]
    logits = (xf.reshape(B * T, C) @ W.T).reshape(B, T, cfg.vocab_size)  # [B, T, V]
    tr.add("logits", logits, ("B", "T", "vocab"))
    tr.add("probs", softmax(logits), ("B", "T", "vocab"))
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
