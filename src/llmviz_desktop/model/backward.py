"""Hand-written backward pass of the GPT forward in gpt.py (no autograd).

Reads the trace (and its cache) of a forward pass plus dL/dlogits and returns dL/dparam for
every parameter, keyed like the parameters. Shapes as in gpt.py.
"""

from __future__ import annotations

import numpy as np

from .config import TANH_GELU, ConfigError, GPTConfig
from .gpt import _UNDERFLOW_OK, GELU_A, GELU_B, Trace, attn_scale
from .params import Params, lm_head

ONE_HOT_MAX_VOCAB = 1024


def check_trainable(cfg: GPTConfig) -> None:
    """The backward pass differentiates the tanh GELU only; other activations are refused."""
    if cfg.activation not in TANH_GELU:
        raise ConfigError(
            f"training needs the tanh GELU (activation_function gelu_new), not {cfg.activation!r}"
        )


def _layer_norm_back(dout, trace: Trace, prefix: str, params: Params, grads: Params):
    """out = xhat * w + b with xhat = (x - mean) * rstd; returns dx."""
    xhat = trace.cache[f"{prefix}.xhat"]  # [B, T, C]
    rstd = trace[f"{prefix}.rstd"][..., None]  # [B, T, 1]
    grads[f"{prefix}.weight"] = (dout * xhat).sum(axis=(0, 1))  # [C]
    if f"{prefix}.bias" in params:
        grads[f"{prefix}.bias"] = dout.sum(axis=(0, 1))  # [C]
    dxhat = dout * params[f"{prefix}.weight"]  # [B, T, C]
    return rstd * (
        dxhat
        - dxhat.mean(axis=-1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    )


def _linear_back(dout, x, params: Params, prefix: str, grads: Params):
    """y = x @ W + b with x [..., in], W [in, out]; returns dx."""
    W = params[f"{prefix}.weight"]
    x2 = x.reshape(-1, x.shape[-1])  # [N, in]
    d2 = dout.reshape(-1, dout.shape[-1])  # [N, out]
    grads[f"{prefix}.weight"] = x2.T @ d2  # [in, out]
    if f"{prefix}.bias" in params:
        grads[f"{prefix}.bias"] = d2.sum(axis=0)  # [out]
    return (d2 @ W.T).reshape(*dout.shape[:-1], W.shape[0])  # [..., in]


@_UNDERFLOW_OK
def backward(trace: Trace, params: Params, dlogits: np.ndarray) -> Params:
    cfg = trace.config
    check_trainable(cfg)
    dtype = dlogits.dtype
    p = {k: np.asarray(v).astype(dtype, copy=False) for k, v in params.items()}
    B, T = trace.tokens.shape
    C, H, D = cfg.n_embd, cfg.n_head, cfg.head_dim
    grads: Params = {}

    # logits = ln_f.out @ W_lm^T
    W = lm_head(cfg, p)  # [V, C]
    xf = trace["ln_f.out"].reshape(B * T, C)
    d2 = dlogits.reshape(B * T, -1)  # [BT, V]
    dW = d2.T @ xf  # [V, C]
    dx = (d2 @ W).reshape(B, T, C)  # [B, T, C]
    dx = _layer_norm_back(dx, trace, "ln_f", p, grads)

    for i in reversed(range(cfg.n_layer)):
        pre = f"h.{i}"
        scale = dtype.type(attn_scale(cfg, i))
        # x_out = x_mid + c_proj(gelu(c_fc(ln_2(x_mid))))
        g = trace[f"{pre}.mlp.gelu"]
        dg = _linear_back(dx, g, p, f"{pre}.mlp.c_proj", grads)  # [B, T, 4C]
        u = trace[f"{pre}.mlp.fc"]
        t = trace.cache[f"{pre}.gelu_tanh"]  # tanh(GELU_A * (u + GELU_B * u^3))
        dgelu = 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * GELU_A * (1 + 3 * GELU_B * u * u)
        du = dg * dgelu  # [B, T, 4C]
        dm = _linear_back(du, trace[f"{pre}.ln_2.out"], p, f"{pre}.mlp.c_fc", grads)
        dx = dx + _layer_norm_back(dm, trace, f"{pre}.ln_2", p, grads)

        # x_mid = x_in + c_proj(attention(ln_1(x_in)))
        dy = _linear_back(dx, trace.cache[f"{pre}.attn_y"], p, f"{pre}.attn.c_proj", grads)
        dyh = dy.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # [B, H, T, D]
        q, k, v = (trace.cache[f"{pre}.{n}"] for n in "qkv")
        probs = trace.cache[f"{pre}.probs"]  # [B, H, T, T]
        dprobs = dyh @ v.swapaxes(-1, -2)  # [B, H, T, T]
        dv = probs.swapaxes(-1, -2) @ dyh  # [B, H, T, D]
        # softmax backward; masked entries have probs = 0, so their gradient vanishes
        dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
        dscores *= scale
        dq = dscores @ k  # [B, H, T, D]
        dk = dscores.swapaxes(-1, -2) @ q  # [B, H, T, D]
        dqkv = np.stack([dq, dk, dv])  # [3, B, H, T, D]
        dqkv = dqkv.transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * C)  # [B, T, 3C]
        da = _linear_back(dqkv, trace[f"{pre}.ln_1.out"], p, f"{pre}.attn.c_attn", grads)
        dx = dx + _layer_norm_back(da, trace, f"{pre}.ln_1", p, grads)

    # emb = wte[tokens] + wpe[:T]
    ids, rows = trace.tokens.reshape(-1), dx.reshape(B * T, C)
    if cfg.vocab_size <= ONE_HOT_MAX_VOCAB:  # one GEMM beats np.add.at ~8x for small vocabs
        dwte = (ids[None, :] == np.arange(cfg.vocab_size)[:, None]).astype(dtype) @ rows
    else:
        dwte = np.zeros_like(p["wte.weight"])
        np.add.at(dwte, ids, rows)
    dwpe = np.zeros_like(p["wpe.weight"])
    dwpe[:T] = dx.sum(axis=0)
    if cfg.tie_word_embeddings:
        dwte += dW
    else:
        grads["lm_head.weight"] = dW
    grads["wte.weight"] = dwte
    grads["wpe.weight"] = dwpe
    return grads
