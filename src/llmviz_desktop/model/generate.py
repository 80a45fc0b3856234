"""Autoregressive generation: greedy by default, or sampling with temperature and top-k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import GPTConfig
from .gpt import Trace, forward
from .params import Params


@dataclass
class Step:
    position: int  # index of the generated token in the full sequence
    probs: np.ndarray  # [B, V] the distribution the token was chosen from
    token: np.ndarray  # [B] chosen token ids


@dataclass
class Generation:
    tokens: np.ndarray  # [B, n_new] generated ids
    first: Trace  # the forward pass on the input alone
    steps: list[Step]


def next_token_distribution(
    logits: np.ndarray, temperature: float = 0.0, top_k: int | None = None
) -> np.ndarray:
    """logits [B, V] -> probabilities [B, V]. temperature 0 means greedy (plain softmax,
    the argmax is taken); top_k keeps the k largest logits.

    softmax(logits / T) is computed as exp((logits - max) / T) / sum: the exponent is <= 0
    whatever T, so a tiny T gives a one-hot distribution (never inf / inf = NaN) and a huge T
    a uniform one."""
    logits = logits.astype(np.float64)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    z = logits - logits.max(axis=-1, keepdims=True)  # [B, V] <= 0, the best at 0
    # (a tiny temperature overflows the scaled gaps to -inf, a huge one underflows them to 0,
    # and exp of a very negative gap underflows to 0: all exact limits of the distribution)
    with np.errstate(over="ignore", under="ignore"):
        if temperature > 0:
            z = z / temperature
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def generate(
    cfg: GPTConfig,
    params: Params,
    tokens: np.ndarray,
    n_new: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> Generation:
    """Extend tokens [B, L] (or [L]) by n_new tokens. The last token is never fed back, so
    L + n_new - 1 must fit the context."""
    seq = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
    if seq.shape[1] + n_new - 1 > cfg.block_size:
        raise ValueError(
            f"{seq.shape[1]} input tokens + {n_new} new tokens exceed the context of "
            f"{cfg.block_size}"
        )
    rng = np.random.default_rng(seed)
    steps: list[Step] = []
    first: Trace | None = None
    for _ in range(n_new):
        trace = forward(cfg, params, seq)
        first = first or trace
        probs = next_token_distribution(trace.logits[:, -1], temperature, top_k)
        if temperature > 0:
            cum = probs.cumsum(axis=-1)
            u = rng.random((seq.shape[0], 1))
            tok = np.minimum((cum < u * cum[:, -1:]).sum(axis=-1), probs.shape[-1] - 1)
        else:
            tok = probs.argmax(axis=-1)
        steps.append(Step(seq.shape[1], probs, tok))
        seq = np.concatenate([seq, tok[:, None]], axis=1)
    assert first is not None
    return Generation(seq[:, -n_new:], first, steps)
