"""The logit lens: what the model would predict if it stopped early. A residual stream column
from the middle of the stack is put through the model's own final layer norm (ln_f) and
unembedding (lm_head), exactly as the last layer's output is. Computed from traced tensors
and the model's weights only, in float64."""

from __future__ import annotations

import numpy as np

from . import activations as A
from .config import GPTConfig
from .generate import next_token_distribution
from .gpt import Trace
from .params import Params, lm_head


def lens_streams(cfg: GPTConfig) -> list[str]:
    """The residual streams a lens can read, top to bottom: the embedding, then each block's
    stream after its attention and after its MLP (the last one is what ln_f really reads)."""
    out = [A.EMB.name()]
    for layer in range(cfg.n_layer):
        out += [A.ATTN_RESIDUAL.name(layer), A.MLP_RESIDUAL.name(layer)]
    return out


def logit_lens(cfg: GPTConfig, params: Params, trace: Trace, stream: str, t: int) -> np.ndarray:
    """[V] logits read from column t of the residual stream `stream` (batch row 0)."""
    if stream not in lens_streams(cfg):
        raise ValueError(f"{stream!r} is not a residual stream (one of {lens_streams(cfg)})")
    if not 0 <= t < trace.tokens.shape[1]:
        raise ValueError(f"position {t} is outside the traced sequence")
    x = np.asarray(trace[stream][0, t], dtype=np.float64)  # [C]
    xc = x - x.mean()  # [C]
    xhat = xc / np.sqrt((xc * xc).mean() + cfg.layer_norm_epsilon)  # [C]
    h = xhat * np.asarray(params[A.LN_F.weight.name()], dtype=np.float64)  # [C]
    bias = params.get(A.LN_F.bias.name())
    if bias is not None:
        h = h + np.asarray(bias, dtype=np.float64)
    return np.asarray(lm_head(cfg, params), dtype=np.float64) @ h  # [V, C] @ [C] -> [V]


def most_reshaped_position(
    cfg: GPTConfig,
    params: Params,
    trace: Trace,
    stream: str,
    first: int,
    temperatures: tuple[float, float],
) -> int:
    """The position in first..T-1 where the lens distribution changes most between the two
    temperatures (total variation distance): where temperature visibly reshapes the bars. A
    near tie between two tokens is unsure but barely changes (both logits scale alike), and a
    sure prediction barely changes either. The earliest wins a tie."""
    T = trace.tokens.shape[1]
    first = min(max(first, 0), T - 1)
    best, best_d = first, -1.0
    for t in range(first, T):
        z = logit_lens(cfg, params, trace, stream, t)
        lo, hi = (next_token_distribution(z[None], temp)[0] for temp in temperatures)
        d = 0.5 * float(np.abs(lo - hi).sum())
        if d > best_d + 1e-12:
            best, best_d = t, d
    return best
