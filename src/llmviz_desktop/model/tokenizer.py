"""Tokenizers: characters for models with a small named vocabulary (nano-sort: A, B, C), and a
checkpoint folder's byte-level BPE (the `tokenizers` package, Rust).

The Rust library aborts the whole process when an allocation fails, and a hostile
tokenizer.json can make it allocate without bound (a chain of Replace normalizers that each
lengthen the text multiplies its length at every step). So files are size-checked before they
are read, and tokenizer.json is parsed and checked in Python first: how many characters one
input character can become through the normalizers and pre-tokenizers (and one token through
the decoders) is bounded before the library sees the file.
"""

from __future__ import annotations

import base64
import binascii
import faulthandler
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .files import FileProblem, read_limited, stat_problem

MAX_TOKENIZER_BYTES = 64 << 20  # GPT-2's tokenizer.json is ~1.4 MB, vocab.json ~1 MB
# how many characters one character may become on its way to the model (or one token on its
# way back to text): real tokenizers stay under ~60 (NFKC's longest expansion is 18)
MAX_EXPANSION = 256
MAX_NORMALIZED_ADDED = 1 << 24  # characters of added tokens the normalizers may produce at load


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
    message, so the raw lines are sent to /dev/null to keep the user's error one line.

    A Rust abort (which no exception reports) would then end the process without a word, so
    for the duration Python's fault handler writes "Fatal Python error: Aborted" and where it
    happened to the real stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded, closed): run as is
        yield
        return
    was_enabled = faulthandler.is_enabled()
    real_stderr = None
    try:
        real_stderr = os.fdopen(os.dup(saved), "wb", buffering=0)
        faulthandler.enable(file=real_stderr, all_threads=False)
    except (OSError, ValueError, RuntimeError):
        pass
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        if real_stderr is not None:
            faulthandler.disable()
            if was_enabled:
                faulthandler.enable()
            real_stderr.close()


def _is_panic(e: BaseException) -> bool:
    """pyo3's PanicException (a BaseException, not an Exception, and not importable) raised
    when the tokenizers package's Rust code panics on a hostile file."""
    return type(e).__name__ == "PanicException"


def _read(path: Path, what: str) -> bytes:
    try:
        return read_limited(path, MAX_TOKENIZER_BYTES, what)
    except FileProblem as e:
        raise TokenizerError(str(e)) from None


def _component_types(node: object, list_key: str) -> list[dict]:
    """A normalizer / pre-tokenizer / decoder and, for a Sequence, its parts, flattened."""
    if not isinstance(node, dict):
        return []
    parts = node.get(list_key)
    if node.get("type") == "Sequence" and isinstance(parts, list):
        return [c for part in parts for c in _component_types(part, list_key)]
    return [node]


def _replace_growth(node: dict) -> float:
    """How many characters one character can become through a Replace: its content for each
    (shortest) match of the pattern; a regex may match a single character or none."""
    content = node.get("content")
    n = len(content) if isinstance(content, str) else 1
    pattern = node.get("pattern")
    literal = pattern.get("String") if isinstance(pattern, dict) else None
    if isinstance(literal, str) and literal:
        return max(1.0, n / len(literal))
    return 1.0 + n


def _charsmap_growth(node: dict) -> float:
    """A Precompiled (sentencepiece) normalizer's longest replacement string, in characters."""
    try:
        blob = base64.b64decode(str(node.get("precompiled_charsmap", "")), validate=False)
        trie = int.from_bytes(blob[:4], "little")
        strings = blob[4 + trie :].split(b"\0")
        return float(max([1] + [len(t.decode("utf-8", "replace")) for t in strings]))
    except (ValueError, binascii.Error):
        return 1.0  # unreadable: the library refuses it


# Unicode's longest decompositions (NFKC/NFKD: U+FDFA -> 18 characters) and lower-case mapping
# (U+0130 -> 2); BERT's normalizer spaces CJK characters (x3) and lower-cases; byte-level maps
# each UTF-8 byte (up to 4 per character) to a character
_NORMALIZER_GROWTH: dict[str, float] = {"NFKC": 18, "NFKD": 18, "NFC": 3, "NFD": 4, "Lowercase": 2}
_NORMALIZER_GROWTH |= {"BertNormalizer": 9, "ByteLevel": 4}
_PRE_TOKENIZER_GROWTH: dict[str, float] = {"ByteLevel": 4, "Metaspace": 2}


def _growth(components: list[dict], table: dict[str, float]) -> float:
    factor = 1.0
    for c in components:
        kind = c.get("type")
        if kind == "Replace":
            factor *= _replace_growth(c)
        elif kind == "Precompiled":
            factor *= _charsmap_growth(c)
        elif kind == "Prepend":  # adds its text once, at the start: no growth per character
            continue
        else:
            factor *= table.get(str(kind), 1.0)
        factor = min(factor, 1e30)
    return factor


def check_tokenizer_json(doc: object) -> str | None:
    """Why a parsed tokenizer.json would make the tokenizers library allocate without bound
    (which aborts the process), or None. Checked before the library sees the file."""
    if not isinstance(doc, dict):
        return "not a tokenizer (expected a JSON object)"
    normalizers = _component_types(doc.get("normalizer"), "normalizers")
    encode = _growth(normalizers, _NORMALIZER_GROWTH) * _growth(
        _component_types(doc.get("pre_tokenizer"), "pretokenizers"), _PRE_TOKENIZER_GROWTH
    )
    if encode > MAX_EXPANSION:
        return (
            f"its normalizers and pre-tokenizers can turn one character into {encode:.3g} "
            f"(at most {MAX_EXPANSION} allowed)"
        )
    decode = _growth(_component_types(doc.get("decoder"), "decoders"), {})
    if decode > MAX_EXPANSION:
        return (
            f"its decoders can turn one character into {decode:.3g} (at most {MAX_EXPANSION} "
            "allowed)"
        )
    added = doc.get("added_tokens")
    if isinstance(added, list):
        grow = _growth(normalizers, _NORMALIZER_GROWTH)
        chars = sum(
            len(t["content"])
            for t in added
            if isinstance(t, dict) and isinstance(t.get("content"), str) and t.get("normalized")
        )
        if chars * grow > MAX_NORMALIZED_ADDED:
            return f"normalizing its added tokens could produce {chars * grow:.3g} characters"
    return None


def _parse_tokenizer_json(path: Path) -> str:
    """The text of a tokenizer.json that is safe to hand to the library, else TokenizerError."""
    raw = _read(path, "a tokenizer.json")
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError:
        raise TokenizerError(f"{path}: not a usable tokenizer (not UTF-8 text)") from None
    except RecursionError:
        raise TokenizerError(f"{path}: not a usable tokenizer (JSON nested too deeply)") from None
    except ValueError as e:
        first = (str(e).splitlines() or ["invalid JSON"])[0][:200]
        raise TokenizerError(f"{path}: not a usable tokenizer (invalid JSON: {first})") from None
    problem = check_tokenizer_json(doc)
    if problem is not None:
        raise TokenizerError(f"{path}: not a usable tokenizer ({problem})")
    return text


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
        # a file that is there but unreadable (or a folder) is named with the true reason
        problem = stat_problem(tj)
        if problem not in (None, "file not found"):
            raise TokenizerError(f"{tj}: cannot read a tokenizer.json ({problem})")
        text = _parse_tokenizer_json(tj) if problem is None else None
        if text is None:
            found = {path: stat_problem(path) for path in (vj, mt)}
            for path, why in found.items():
                if why not in (None, "file not found"):
                    raise TokenizerError(f"{path}: cannot read a {path.name} ({why})")
            if all(why is None for why in found.values()):
                _read(vj, "a vocab.json")  # size and readability, before the library reads
                _read(mt, "a merges.txt")
        try:
            with _rust_panics_quiet():
                if text is not None:
                    return cls(Tokenizer.from_str(text), str(tj))
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
        try:
            with _rust_panics_quiet():
                return self._tok.decode([int(i) for i in ids])
        except BaseException as e:
            if not isinstance(e, Exception) and not _is_panic(e):
                raise
            first = (str(e).splitlines() or [type(e).__name__])[0][:200]
            raise TokenizerError(f"{self.source}: cannot decode the tokens ({first})") from None

    def piece(self, token_id: int) -> str:
        """One token as text, for labels (spaces shown as they decode)."""
        return self.decode([int(token_id)])
