"""Character tokenizer for models with a small named vocabulary (nano-sort: A, B, C)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

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
            allowed = " ".join(t if t.isprintable() and t.strip() else repr(t) for t in self.vocab)
            raise TokenizerError(f"{shown} not in the vocabulary (allowed: {allowed})")
        return np.array([self._ids[ch] for ch in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


@contextmanager
def _rust_panics_quiet():
    """Rust's panic hook prints its message and a backtrace hint straight to file descriptor 2
    before pyo3 turns the panic into an exception; the exception text already carries the
    message, so the raw lines are sent to /dev/null to keep the user's error one line."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded, closed): run as is
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _is_panic(e: BaseException) -> bool:
    """pyo3's PanicException (a BaseException, not an Exception, and not importable) raised
    when the tokenizers package's Rust code panics on a hostile file."""
    return type(e).__name__ == "PanicException"


def _bpe_culprit(vocab: Path, merges: Path) -> str:
    """The file(s) to name when vocab.json + merges.txt fail: the library's errors do not say
    which, so a vocab.json that is not a JSON object is blamed alone, and otherwise both."""
    import json

    try:
        vocab_ok = isinstance(json.loads(vocab.read_bytes()), dict)
    except (OSError, ValueError, RecursionError):
        vocab_ok = False
    return f"{vocab} + {merges.name}" if vocab_ok else str(vocab)


class BPETokenizer:
    """A GPT-2 byte-level BPE tokenizer (the `tokenizers` package), from a checkpoint folder's
    tokenizer.json, or vocab.json + merges.txt. Offline: nothing is downloaded."""

    def __init__(self, tokenizer, source: str):
        # one sequence at a time: padding or truncation settings in a tokenizer.json are never
        # wanted, and a hostile padding length makes the library abort the whole process
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tok = tokenizer
        self.source = source
        self.vocab_size = tokenizer.get_vocab_size()

    @classmethod
    def from_dir(cls, directory) -> BPETokenizer:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        directory = Path(directory)
        tj, vj, mt = (directory / n for n in ("tokenizer.json", "vocab.json", "merges.txt"))
        try:
            with _rust_panics_quiet():
                if tj.is_file():
                    return cls(Tokenizer.from_file(str(tj)), str(tj))
                if vj.is_file() and mt.is_file():
                    tok = Tokenizer(models.BPE.from_file(str(vj), str(mt)))
                    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
                    tok.decoder = decoders.ByteLevel()
                    return cls(tok, f"{vj} + {mt.name}")
        except BaseException as e:  # plain Exceptions, and Rust panics (BaseException)
            if not isinstance(e, Exception) and not _is_panic(e):
                raise  # KeyboardInterrupt, SystemExit
            bad = str(tj) if tj.is_file() else _bpe_culprit(vj, mt)
            first = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise TokenizerError(f"{bad}: not a usable tokenizer ({first})") from None
        raise TokenizerError(
            f"{directory}: no tokenizer.json (or vocab.json + merges.txt) to tokenise text"
        )

    def encode(self, text: str) -> np.ndarray:
        if not text:
            raise TokenizerError("the text is empty")
        try:
            with _rust_panics_quiet():
                ids = self._tok.encode(text).ids
        except BaseException as e:
            if not isinstance(e, Exception) and not _is_panic(e):
                raise
            first = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise TokenizerError(f"{self.source}: cannot tokenise the text ({first})") from None
        if not ids:
            raise TokenizerError(f"{self.source}: the text gives no tokens")
        return np.array(ids, dtype=np.int64)

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids])

    def piece(self, token_id: int) -> str:
        """One token as text, for labels (spaces shown as they decode)."""
        return self._tok.decode([int(token_id)])
