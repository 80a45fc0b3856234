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
