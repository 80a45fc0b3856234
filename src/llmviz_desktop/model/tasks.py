"""The sorting task of minGPT's demo: 6 letters from {A, B, C} in, the same letters sorted out."""

from __future__ import annotations

import itertools

import numpy as np

from .config import SORT_LENGTH

N_LETTERS = 3


def sort_batch(rng: np.random.Generator, batch_size: int, length: int = SORT_LENGTH):
    """A training batch: x = input + solution minus its last token ([B, 2L-1]); y = x shifted
    by one, with -1 (not counted) on the first L-1 positions so only the L solution tokens
    are predicted."""
    inp = rng.integers(0, N_LETTERS, size=(batch_size, length))  # [B, L]
    return sequences_for(inp)


def sequences_for(inp: np.ndarray):
    length = inp.shape[1]
    seq = np.concatenate([inp, np.sort(inp, axis=1)], axis=1)  # [B, 2L]
    x = seq[:, :-1].copy()  # [B, 2L-1]
    y = seq[:, 1:].copy()  # [B, 2L-1]
    y[:, : length - 1] = -1
    return x, y


def all_inputs(length: int = SORT_LENGTH) -> np.ndarray:
    """Every possible input: 3**6 = 729 rows."""
    return np.array(list(itertools.product(range(N_LETTERS), repeat=length)), dtype=np.int64)
