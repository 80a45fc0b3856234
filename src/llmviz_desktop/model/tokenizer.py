"""Character tokenizer for models with a small named vocabulary (nano-sort: A, B, C)."""

from __future__ import annotations

import numpy as np


class TokenizerError(ValueError):
    """Text the vocabulary cannot encode; the message is one line for the user."""


class CharTokenizer:
    def __init__(self, vocab: tuple[str, ...]):
        self.vocab = tuple(vocab)
        self._ids = {tok: i for i, tok in enumerate(self.vocab)}

    def encode(self, text: str) -> np.ndarray:
        bad = sorted({ch for ch in text if ch not in self._ids})
        if bad:
            shown = ", ".join(repr(ch) for ch in bad)
            raise TokenizerError(f"{shown} not in the vocabulary (allowed: {' '.join(self.vocab)})")
        return np.array([self._ids[ch] for ch in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)
