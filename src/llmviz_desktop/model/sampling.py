"""Sampling settings for generation (greedy by default) and the next-token distribution they
give at a position of the current trace."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generate import next_token_distribution


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0: greedy (the most likely token)
    top_k: int | None = None  # keep only the k most likely tokens
    seed: int = 0  # random seed when temperature > 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0 or self.top_k == 1


def distribution(model, t: int) -> np.ndarray:
    """[V] probabilities the next token after position t is drawn from."""
    s: Sampling = getattr(model, "sampling", Sampling())
    logits = model.trace.logits[0, t : t + 1]
    return next_token_distribution(logits, s.temperature, s.top_k)[0]


# the walkthrough's sweeps: the setting as a pure function of a step's progress p in 0..1
SWEEP_TEMPERATURES = (0.5, 3.0)  # from sharper than softmax to nearly flat (for 3 tokens)


def swept_temperature(p: float) -> float:
    """T from 0.5 to 3 geometrically (equal ratios per equal progress), held at both ends for
    the first and last 10 % of the step."""
    lo, hi = SWEEP_TEMPERATURES
    f = float(np.clip((p - 0.1) / 0.8, 0.0, 1.0))
    return float(lo * (hi / lo) ** f)


def swept_top_k(p: float, vocab_size: int) -> int:
    """k from the whole vocabulary down to 1 in equal parts of the step."""
    return max(vocab_size - int(np.clip(p, 0.0, 1.0) * vocab_size), 1)


def draw(probs: np.ndarray, u: float) -> int:
    """The token a uniform number u in [0, 1) picks: the first whose cumulative probability
    passes u (as generate() samples)."""
    cum = np.cumsum(probs)
    return int(min((cum < u * cum[-1]).sum(), len(probs) - 1))
