"""Hostile files: hypothesis fuzzing of every loader that reads a file a user can hand us.

Kinds fuzzed: model.safetensors (truncations, bit flips, forged headers with absurd shapes,
offsets, dtypes; NaN/inf, wrong dtypes and shapes in otherwise valid files), config.json (random
JSON values at every key, deep nesting, huge numbers and strings, damaged bytes), tokenizer.json
and vocab.json + merges.txt (damaged bytes and random components, absurd sizes), CharTokenizer
input, checkpoint folders (a tokenizer beside the weights; replay runs of step-NNNNNN folders and
metrics.jsonl), walkthrough chapters (mutated copies of the shipped walkthrough/*.toml, random
field values and types, random TOML) and settings.json; a few CLI runs in subprocesses.

Every case must end in one of two ways: the loader accepts the file and what it returns is
usable, or it raises exactly the documented error type whose message is ONE line naming the
file. Each case also runs under bounds: it returns within TIME_LIMIT_S (a faulthandler watchdog
kills a real hang), and neither Python/numpy allocations (tracemalloc peak) nor native ones
(Linux peak RSS, reset per case through /proc/self/clear_refs) exceed MEMORY_LIMIT. Generated
files are < 64 KB except the few about size (deep nesting up to 400 KB, a 1 MB config.json, a
256 KB chapter), so a header declaring a 10^12-element tensor has nothing to justify 64 MB.

Reproducible: hypothesis runs derandomized (fixed seed) without an example database; each kind's
hand-picked hostile inputs run first as plain parametrized tests. Cases per kind are printed at
the end of the module (see docs/fuzz.md). Reproduce: python -m pytest tests/test_fuzz_files.py
"""

from __future__ import annotations

import base64
import datetime
import faulthandler
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import tokenizers  # noqa: F401 - imported once here, not inside the first measured case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open  # noqa: F401 - likewise

import llmviz_desktop.session.state  # noqa: F401 - likewise (load_model's imports)
from llmviz_desktop.model.config import GPTConfig
from llmviz_desktop.model.params import init_params, param_specs
from llmviz_desktop.model.tokenizer import BPETokenizer, CharTokenizer, TokenizerError
from llmviz_desktop.model.weights import (
    WeightsError,
    load_checkpoint,
    load_config,
    read_safetensors,
    save_checkpoint,
)
from llmviz_desktop.session.replay import ReplayError, open_replay
from llmviz_desktop.session.settings import Settings, load_settings
from llmviz_desktop.walkthrough.chapters import Chapter, ChapterError, load_chapter, load_chapters

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_FILES = sorted((ROOT / "walkthrough").glob("*.toml"))
SHIPPED_IDS = {p: tomllib.loads(p.read_text(encoding="utf-8"))["id"] for p in CHAPTER_FILES}

TIME_LIMIT_S = 2.0  # per case, measured around the loader call
HANG_GUARD_S = 30.0  # a call still running after this dumps its stack and exits the run
MEMORY_LIMIT = 64 << 20  # bytes per case: python/numpy (tracemalloc) and native (peak RSS)

CASES: Counter[str] = Counter()  # file kind -> cases run (printed at the end of the module)


def fuzz(n: int):
    """Hypothesis settings: reproducible (derandomized, no database), time measured by hand."""
    return settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        report_multiple_bugs=False,  # one shrunk failure per test keeps a failing run short
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )


# ---- bounds: time, memory, hangs -------------------------------------------------------------


def _peak_rss() -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) * 1024 if m else None


def _reset_peak_rss() -> int | None:
    """Reset the kernel's peak-RSS mark to the current RSS; None where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _peak_rss()


def bounded(call: Callable[[], Any], files: int = 1) -> tuple[Any, BaseException | None]:
    """Run one loader call under the time and memory bounds: (value, None) or (None, error).
    Any exception is returned (the caller decides whether its type is allowed), so a crash is
    a test failure with the traceback, never an escape. A call that reads a folder gets
    TIME_LIMIT_S per file in it."""
    rss0 = _reset_peak_rss()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    py0 = tracemalloc.get_traced_memory()[0]
    faulthandler.dump_traceback_later(HANG_GUARD_S, exit=True)
    value, error = None, None
    t0 = time.perf_counter()
    try:
        value = call()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B036 - PanicException and SystemExit are findings too
        error = e
    finally:
        seconds = time.perf_counter() - t0
        faulthandler.cancel_dump_traceback_later()
        py_peak = tracemalloc.get_traced_memory()[1] - py0
        if not was_tracing:
            tracemalloc.stop()
        rss1 = _peak_rss()
    native = rss1 - rss0 if rss0 is not None and rss1 is not None else 0
    what = f"{type(error).__name__}: {str(error)[:200]}" if error else "accepted"
    limit = TIME_LIMIT_S * files
    assert seconds < limit, f"took {seconds:.2f} s (limit {limit:g} s); {what}"
    assert py_peak < MEMORY_LIMIT, f"allocated {py_peak / 2**20:.0f} MiB (python/numpy); {what}"
    assert native < MEMORY_LIMIT, f"peak RSS grew {native / 2**20:.0f} MiB (native); {what}"
    return value, error


def no_exception(error: BaseException | None) -> None:
    """For loaders documented never to raise: fail with the traceback if one did."""
    if error is not None:
        tb = "".join(traceback.format_exception(error))
        pytest.fail(f"{type(error).__name__} escaped:\n{tb[-3000:]}", pytrace=False)


def refused(error: BaseException | None, expected: type, *names: str) -> str:
    """The refusal is exactly `expected`, with a non-empty one-line message naming one of
    `names` (the file)."""
    assert error is not None, f"accepted, but a {expected.__name__} was expected"
    if type(error) is not expected:
        tb = "".join(traceback.format_exception(error))
        pytest.fail(
            f"{type(error).__name__} escaped instead of {expected.__name__}:\n{tb[-3000:]}",
            pytrace=False,
        )
    msg = str(error)
    assert msg.strip(), "empty message"
    assert len(msg.splitlines()) == 1, f"message is not one line: {msg[:400]!r}"
    if names:
        assert any(n in msg for n in names), f"none of {names} named in {msg[:400]!r}"
    return msg


# ---- byte-level mutations ----------------------------------------------------------------------


def flip_bits(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for b in bits:
        out[(b // 8) % len(out)] ^= 1 << (b % 8)
    return bytes(out)


@st.composite
def damaged(
    draw,
    original: bytes,
    inserts: tuple[bytes, ...] = (b"\x00", b"\xff"),
    value_after: bytes | None = None,
) -> bytes:
    """A truncation, bit flips, an overwrite or an insertion somewhere in `original`; with
    `value_after` (b": " for JSON, b"= " for TOML) also a value replaced by deep nesting."""
    hows = ["truncate", "flip", "overwrite", "insert"] + (["nest"] if value_after else [])
    how = draw(st.sampled_from(hows), label="how")
    n = len(original)
    if how == "nest" and value_after in original:
        starts = [i for i in range(n) if original.startswith(value_after, i)]
        at = draw(st.sampled_from(starts), label="value") + len(value_after)
        depth = draw(st.sampled_from([50, 900, 1100, 5000, 20_000]), label="depth")
        opener = draw(st.sampled_from([b"[", b"{a = " if value_after == b"= " else b'{"a": ']))
        return original[:at] + opener * depth + original[at:]
    if how == "truncate":
        return original[: draw(st.integers(0, n - 1), label="cut")]
    if how == "flip":
        bits = draw(st.lists(st.integers(0, 8 * n - 1), min_size=1, max_size=8), label="bits")
        return flip_bits(original, bits)
    pos = draw(st.integers(0, n), label="pos")
    blob = draw(
        st.one_of(
            st.binary(min_size=1, max_size=8),
            st.sampled_from(inserts),
            st.builds(lambda b, k: b * k, st.sampled_from(inserts), st.integers(1, 3000)),
        ),
        label="blob",
    )
    if how == "overwrite":
        return original[:pos] + blob + original[pos + len(blob) :]
    return original[:pos] + blob + original[pos:]


# ---- JSON and TOML values ------------------------------------------------------------------------

WEIRD_STRINGS = ["", " ", "a\nb", "x\r", "\u2028", "\x00", "\ud800", "é", "🤖", "A" * 5000]
EDGE_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_FLOATS),
    st.integers(-10, 10),
    st.integers(),
    st.sampled_from([2**31, 2**63, 2**64, 10**18, -(2**63), 10**100]),
    st.floats(),  # nan and inf included: json.dumps writes NaN / Infinity, json.loads reads them
    st.text(max_size=12),
    st.sampled_from(WEIRD_STRINGS),
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=10,
)


def deep_json(n: int, kind: str) -> str:
    return {
        "open-arrays": "[" * n,
        "arrays": "[" * n + "]" * n,
        "open-objects": '{"a":' * n,
        "objects": '{"a":' * n + "1" + "}" * n,
    }[kind]


hostile_json_texts = st.one_of(
    st.builds(
        deep_json,
        st.sampled_from([200, 990, 1000, 5000, 100_000, 400_000]),
        st.sampled_from(["open-arrays", "arrays", "open-objects", "objects"]),
    ),
    st.builds(lambda k: "1" * k, st.sampled_from([4300, 4301, 20_000])),
    st.builds(lambda k: "-" + "9" * k, st.sampled_from([4300, 4301])),
    st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 400 + ".5", "-0"]),
    st.builds(lambda k: json.dumps("x" * k), st.sampled_from([10, 60_000])),
    st.sampled_from(["", " ", "\ufeff{}", "{}\x00", "null", "[]", '"\\ud800"', '{"a": 1,}']),
)


def toml_str(s: str) -> str:
    # JSON escapes are valid TOML basic-string escapes; TOML also wants DEL escaped
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, datetime.date | datetime.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_document(data: dict) -> str:
    """Scalars and inline tables first, then `steps` as [[steps]] tables when it is a list of
    tables (as the real chapters are written); anything else inline."""
    lines = [f"{toml_str(k)} = {toml_value(v)}" for k, v in data.items() if k != "steps"]
    steps = data.get("steps")
    if isinstance(steps, list) and steps and all(isinstance(s, dict) for s in steps):
        for s in steps:
            lines += ["", "[[steps]]"] + [f"{toml_str(k)} = {toml_value(v)}" for k, v in s.items()]
    elif "steps" in data:
        lines.insert(0, f"steps = {toml_value(steps)}")
    return "\n".join(lines) + "\n"


toml_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)
toml_keys = st.one_of(
    toml_text,
    st.sampled_from(["id", "title", "text", "kind", "frame", "yaw", "a\nb", "x\ry", "\u2028"]),
)
toml_scalars = st.one_of(
    st.booleans(),
    st.sampled_from(EDGE_FLOATS),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63)]),
    st.floats(),
    toml_text,
    st.sampled_from(
        ["overview", "front", "*", "h.0.*", "reveal", "dot", "softmax", "columns", "", "\n"]
    ),
    st.sampled_from(
        [datetime.date(1979, 5, 27), datetime.datetime(1979, 5, 27, 7, 32), datetime.time(7, 32)]
    ),
)
toml_values = st.recursive(
    toml_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(toml_keys, c, max_size=4),
    max_leaves=8,
)
# type confusion and non-finite numbers where a chapter expects numbers, lists or tables
NUMBER_FIELDS = {"duration", "t", "yaw", "pitch", "margin", "distance", "fov"}
edge_numbers = st.sampled_from([math.nan, math.inf, -math.inf, True, "1", -1, 1e308, 2**63 - 1])
edge_toml_values = st.sampled_from(
    [math.nan, math.inf, -math.inf, True, 0, -1, 2**63 - 1, 1e308, "", "*", [], {}]
    + [[True, 0, 0], [math.nan, 0, 0], [0, math.inf, 0], [True, False], [0, -1], [[0], 1]]
    + [{"frame": ["*"]}, {"kind": "dot"}, {"target": [0, 0, 0]}]
)


# ---- checkpoints -------------------------------------------------------------------------------


def tiny_cfg(**changes) -> GPTConfig:
    kwargs = dict(name="tiny", n_layer=1, n_head=2, n_embd=4, vocab_size=5, block_size=4)
    kwargs.update(changes)
    return GPTConfig(**kwargs)


def tiny_params(cfg: GPTConfig) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v, np.float32) for k, v in init_params(cfg, 0).items()}


TINY = tiny_cfg()
TINY_PARAMS = tiny_params(TINY)
TINY_CONFIG_TEXT = json.dumps(TINY.to_hf_dict(), indent=2)
PRISTINE = safetensors.numpy.save(TINY_PARAMS, metadata={"format": "pt"})
PRISTINE_HEADER = int.from_bytes(PRISTINE[:8], "little")
SPEC_NAMES = [s.name for s in param_specs(TINY)]


def forged_safetensors(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    n = len(text) if length is None else length
    return (n % 2**64).to_bytes(8, "little") + text + data


@pytest.fixture(scope="module", autouse=True)
def _short_rust_panics():
    """A tokenizers panic prints a backtrace to stderr when RUST_BACKTRACE is set: noise."""
    before = os.environ.get("RUST_BACKTRACE")
    os.environ["RUST_BACKTRACE"] = "0"
    yield
    if before is None:
        del os.environ["RUST_BACKTRACE"]
    else:
        os.environ["RUST_BACKTRACE"] = before


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def fresh(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch))


def checkpoint_dir(
    scratch: Path, weights: bytes = PRISTINE, config: str | bytes = TINY_CONFIG_TEXT
) -> Path:
    d = fresh(scratch) / "ckpt"
    d.mkdir()
    (d / "model.safetensors").write_bytes(weights)
    cfg = config.encode("utf-8", "surrogatepass") if isinstance(config, str) else config
    (d / "config.json").write_bytes(cfg)
    return d


def usable_params(cfg: GPTConfig, params: dict) -> None:
    """What an accepted checkpoint must look like: every spec tensor, right shape, finite f32."""
    assert isinstance(cfg, GPTConfig)
    assert sorted(params) == sorted(s.name for s in param_specs(cfg))
    for spec in param_specs(cfg):
        a = params[spec.name]
        assert a.shape == spec.shape and a.dtype == np.float32, spec.name
        assert np.isfinite(a).all(), spec.name


def check_weights_file(d: Path, *, must_fail: bool = False, needles: tuple[str, ...] = ()):
    """read_safetensors and load_checkpoint on a folder whose config.json is good."""
    path = d / "model.safetensors"
    CASES["model.safetensors"] += 1
    raw, error = bounded(lambda: read_safetensors(path))
    if error is None:
        assert all(isinstance(a, np.ndarray) for a in raw.values())
    else:
        refused(error, WeightsError, str(path))
    del raw
    loaded, error = bounded(lambda: load_checkpoint(d))
    if error is None:
        assert not must_fail, "a damaged checkpoint loaded"
        usable_params(*loaded)
    else:
        msg = refused(error, WeightsError, str(path))
        for needle in needles:
            assert needle in msg, f"{needle!r} not in {msg!r}"


# ---- 1. model.safetensors -------------------------------------------------------------------


def _dims(*shape: int) -> dict:
    return {"dtype": "F32", "shape": list(shape), "data_offsets": [0, 0]}


KNOWN_HOSTILE_WEIGHTS = {
    # zero-element tensors pass the safetensors validation whatever their other dims are
    "zero-element, dim 2**63": (forged_safetensors({"wte.weight": _dims(0, 2**63)}), True),
    "zero-element, dim 2**64-1": (forged_safetensors({"wte.weight": _dims(0, 2**64 - 1)}), True),
    "zero-element, 2**40 x 2**40": (
        forged_safetensors({"wte.weight": _dims(0, 2**40, 2**40)}),
        True,
    ),
    "zero-element, 70 dims": (forged_safetensors({"wte.weight": _dims(*[0] + [2] * 69)}), True),
    "one element, 70 dims": (
        forged_safetensors(
            {"wte.weight": {"dtype": "F32", "shape": [1] * 70, "data_offsets": [0, 4]}}, b"\0" * 4
        ),
        True,
    ),
    "10**12 elements declared, 4 bytes present": (
        forged_safetensors(
            {"wte.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4]}},
            b"\0" * 4,
        ),
        True,
    ),
    "10**12 elements, offsets agree, data absent": (
        forged_safetensors(
            {
                "wte.weight": {
                    "dtype": "F32",
                    "shape": [10**6, 10**6],
                    "data_offsets": [0, 4 * 10**12],
                }
            }
        ),
        True,
    ),
    "offsets past the end": (
        forged_safetensors(
            {"wte.weight": {"dtype": "F32", "shape": [5, 4], "data_offsets": [2**62, 2**62 + 80]}}
        ),
        True,
    ),
    "0-d BF16 tensor": (
        forged_safetensors(
            {"wte.weight": {"dtype": "BF16", "shape": [], "data_offsets": [0, 2]}}, b"\0\0"
        ),
        True,
    ),
    "header length 2**64-1": (b"\xff" * 8 + PRISTINE[8:], True),
    "header length 10**12": ((10**12).to_bytes(8, "little") + PRISTINE[8:], True),
    "header length 0": (bytes(8) + PRISTINE[8:], True),
    "header NaN shape": (
        forged_safetensors({"wte.weight": {"dtype": "F32", "shape": [float("nan")]}}),
        True,
    ),
    "empty": (b"", True),
    "pristine": (PRISTINE, False),
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_WEIGHTS))
def test_known_hostile_weights(scratch, name):
    weights, must_fail = KNOWN_HOSTILE_WEIGHTS[name]
    check_weights_file(checkpoint_dir(scratch, weights), must_fail=must_fail)


@fuzz(100)
@given(cut=st.integers(0, len(PRISTINE) - 1))
def test_fuzz_safetensors_truncated(scratch, cut):
    check_weights_file(checkpoint_dir(scratch, PRISTINE[:cut]), must_fail=True)


@fuzz(120)
@given(data=st.data())
def test_fuzz_safetensors_bit_flips(scratch, data):
    region = data.draw(st.sampled_from(["length", "header", "data", "anywhere"]), label="region")
    lo, hi = {
        "length": (0, 8),
        "header": (8, 8 + PRISTINE_HEADER),
        "data": (8 + PRISTINE_HEADER, len(PRISTINE)),
        "anywhere": (0, len(PRISTINE)),
    }[region]
    bits = data.draw(st.lists(st.integers(8 * lo, 8 * hi - 1), min_size=1, max_size=8), "bits")
    check_weights_file(checkpoint_dir(scratch, flip_bits(PRISTINE, bits)))


DTYPE_NAMES = ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "U64", "BOOL"]
DTYPE_NAMES += ["F8_E4M3", "F8_E5M2", "C64", "F4", "f32", "float32", ""]
ITEMSIZE = {"F64": 8, "I64": 8, "U64": 8, "C64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}
ITEMSIZE |= {"I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
ABSURD = [2**31 - 1, 2**31, 2**32, 2**40, 10**12, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1]
dims = st.one_of(st.integers(0, 6), st.just(0), st.sampled_from(ABSURD))
shapes = st.one_of(
    st.lists(dims, max_size=5),
    st.lists(st.integers(0, 1), min_size=60, max_size=70),  # numpy allows 64 dims
)
tensor_names = st.one_of(
    st.sampled_from(SPEC_NAMES),
    st.sampled_from(SPEC_NAMES).map(lambda n: "transformer." + n),
    st.sampled_from(["h.0.attn.bias", "lm_head.weight", "a\nb", "", "__metadata__"]),
    st.text(max_size=8),
)


@fuzz(160)
@given(data=st.data())
def test_fuzz_safetensors_forged_header(scratch, data):
    """Random headers: absurd shapes (10^12 elements, 2^64-1, 70 dims, zero-element tensors
    with huge dims), offsets past the end or backwards, every dtype, junk keys and metadata.
    Two thirds are laid out consistently (offsets agree with shape x dtype, exact length, so
    the safetensors validation passes and the loader's own code runs: a shape whose bytes
    cannot be supplied gets a 0 dimension, i.e. a zero-element tensor with absurd dims); the
    rest are forged freely."""
    consistent = data.draw(st.integers(0, 2), label="mode") > 0
    header: dict[str, Any] = {}
    blob = b""
    for _ in range(data.draw(st.integers(1, 4), label="n")):
        name = data.draw(tensor_names, label="name")
        if consistent:
            dtype: Any = data.draw(st.sampled_from(sorted(ITEMSIZE)), label="dtype")
            shape: Any = data.draw(shapes, label="shape")
            if any(d < 0 for d in shape):
                shape = [abs(d) for d in shape]
            size = math.prod(shape) * ITEMSIZE[dtype]
            if size > 4096 and data.draw(st.booleans(), label="zero-element"):
                huge = data.draw(st.sampled_from([[2**63], [2**64 - 1], [2**40, 2**40]]), "huge")
                shape = [0, *shape, *huge]
                size = 0
            header[name] = {"dtype": dtype, "shape": shape}
            header[name]["data_offsets"] = [len(blob), len(blob) + size]
            if size <= 4096:  # else: offsets agree with an absurd shape; the bytes are absent
                blob += data.draw(st.binary(min_size=size, max_size=size), label="bytes")
            continue
        dtype = data.draw(st.sampled_from(DTYPE_NAMES) | json_scalars, label="dtype")
        shape = data.draw(shapes | json_values, label="shape")
        offsets = st.lists(st.integers(0, 600) | st.sampled_from(ABSURD), min_size=0, max_size=3)
        info: Any = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": data.draw(offsets | json_values, label="offsets"),
        }
        if data.draw(st.integers(0, 9), label="junk-info") == 0:
            info = data.draw(json_values, label="info")
        header[name] = info
        blob += data.draw(st.binary(max_size=64), label="bytes")
    if data.draw(st.integers(0, 3), label="metadata") == 0:
        header["__metadata__"] = data.draw(
            st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3) | json_values,
            label="metadata-value",
        )
    length = None
    if not consistent and data.draw(st.booleans(), label="forge-length"):
        length = data.draw(st.integers(0, 2**64 - 1) | st.sampled_from(ABSURD[:-1]), "length")
    weights = forged_safetensors(header, blob, length)
    check_weights_file(checkpoint_dir(scratch, weights))


@fuzz(60)
@given(data=st.data())
def test_fuzz_safetensors_absurd_sizes(scratch, data):
    """A small file whose header declares a tensor of 2^30 to 2^128 bytes (offsets that agree
    with the shape, stop short, or start past the end), beside ordinary tensors: always a
    WeightsError, and nothing near the declared size is ever allocated."""
    shape = data.draw(
        st.lists(
            st.integers(1, 10**6) | st.sampled_from(ABSURD[:-1]), min_size=1, max_size=4
        ).filter(lambda s: math.prod(s) >= 2**30),
        label="shape",
    )
    dtype = data.draw(st.sampled_from(sorted(ITEMSIZE)), label="dtype")
    size = math.prod(shape) * ITEMSIZE[dtype]
    tensors = {k: v for k, v in TINY_PARAMS.items() if data.draw(st.booleans(), label=k)}
    header: dict[str, Any] = {}
    blob = b""
    for k, v in tensors.items():
        raw = v.astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape)}
        header[k]["data_offsets"] = [len(blob), len(blob) + len(raw)]
        blob += raw
    start = data.draw(st.sampled_from([len(blob), 0, 2**40, 2**63]), label="start")
    end = data.draw(st.sampled_from([start + size, start + 4, len(blob) + 64]), label="end")
    name = data.draw(st.sampled_from(SPEC_NAMES + ["extra"]), label="name")
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [start, end % 2**64]}
    blob += data.draw(st.binary(max_size=256), label="bytes")
    check_weights_file(checkpoint_dir(scratch, forged_safetensors(header, blob)), must_fail=True)


@fuzz(100)
@given(data=st.data())
def test_fuzz_safetensors_values_dtypes_shapes(scratch, data):
    """A well-formed file whose contents are wrong: NaN/inf, every dtype, transposed or
    reshaped tensors, a tensor missing or extra, prefixed names. The outcome is known for
    each, so the test checks the verdict, not only the error's form."""
    base = {k: v.astype(np.float64) for k, v in TINY_PARAMS.items()}
    name = data.draw(st.sampled_from(SPEC_NAMES), label="tensor")
    how = data.draw(
        st.sampled_from(["nonfinite", "dtype", "overflow", "shape", "missing", "extra", "prefix"]),
        label="how",
    )
    a = base[name].copy()
    changed: dict[str, np.ndarray] = {}  # the hostile tensor, in the dtype it is saved in
    must_fail, needles = True, (repr(name),)
    with np.errstate(all="ignore"):  # building overflowing and non-finite values on purpose
        if how == "nonfinite":
            i = data.draw(st.integers(0, a.size - 1), label="index")
            a.reshape(-1)[i] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), "value")
            dt = data.draw(st.sampled_from([np.float32, np.float16, np.float64]), label="dtype")
            changed[name] = a.astype(dt)
        elif how == "dtype":
            dt = data.draw(
                st.sampled_from([np.float16, np.float64, np.int8, np.int32, np.int64, np.uint8]),
                label="dtype",
            )
            must_fail = not np.issubdtype(dt, np.floating)
            needles = (repr(name),) if must_fail else ()
            changed[name] = a.astype(dt) if must_fail else (a * 0.5).astype(dt)
        elif how == "overflow":  # finite in float64, too large for float32
            a.reshape(-1)[0] = data.draw(st.sampled_from([1e39, -1e300, 3.5e38]), label="value")
            changed[name] = a
        elif how == "shape":
            new = data.draw(
                st.sampled_from(
                    [a.T, a.reshape(-1), a.reshape(1, *a.shape), a[:-1], np.concatenate([a, a])]
                ),
                label="reshaped",
            )
            if new.shape == a.shape:  # a 1-d transpose, say
                new = np.concatenate([a, a])
            changed[name] = np.ascontiguousarray(new, np.float32)
    tensors = {k: v.astype(np.float32) for k, v in base.items()} | changed
    if how == "missing":
        del tensors[name]
    elif how == "extra":
        extra = data.draw(st.sampled_from(["h.1.ln_1.weight", "foo", "h.0.attn.c_attn.wait"]))
        tensors[extra] = np.zeros(3, np.float32)
        needles = (repr(extra),)
    elif how == "prefix":  # every tensor under the GPT2LMHeadModel prefix: the same checkpoint
        tensors = {"transformer." + k: v for k, v in tensors.items()}
        must_fail, needles = False, ()
    weights = safetensors.numpy.save(tensors)
    check_weights_file(checkpoint_dir(scratch, weights), must_fail=must_fail, needles=needles)


# ---- 2. config.json ---------------------------------------------------------------------------

CONFIG_KEYS = [
    "n_layer",
    "n_head",
    "n_embd",
    "vocab_size",
    "n_positions",
    "layer_norm_epsilon",
    "bias",
    "tie_word_embeddings",
    "vocab",
    "task",
    "activation_function",
    "model_type",
    "llmviz_name",
]


NESTED_CONFIG_VALUES = {  # keys whose values have structure of their own
    "task": st.fixed_dictionaries({"name": st.just("sort"), "length": json_values}),
    "vocab": st.lists(st.sampled_from(["A", "B", "C", "", "\n", "AB"]) | json_scalars, max_size=6),
}


def check_config_file(path: Path) -> None:
    CASES["config.json"] += 1
    cfg, error = bounded(lambda: load_config(path))
    if error is not None:
        refused(error, WeightsError, str(path))
        return
    assert isinstance(cfg, GPTConfig)
    for key in ("n_layer", "n_head", "n_embd", "vocab_size", "block_size"):
        v = getattr(cfg, key)
        assert type(v) is int and v > 0, key
    assert math.isfinite(cfg.layer_norm_epsilon) and 0 < cfg.layer_norm_epsilon < 1
    if cfg.vocab is not None:
        assert len(cfg.vocab) == cfg.vocab_size and all(isinstance(t, str) for t in cfg.vocab)
    if cfg.task is not None and "length" in cfg.task:  # the CLI and the app compute with it
        length = cfg.task["length"]
        assert type(length) is int and length > 0, f"accepted task.length {length!r}"


def write_config(scratch: Path, text: str | bytes) -> Path:
    path = fresh(scratch) / "config.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


KNOWN_HOSTILE_CONFIGS = {
    "deep arrays": "[" * 100_000,
    "deep objects": '{"a":' * 100_000,
    "closed deep arrays": deep_json(5000, "arrays"),
    "4301-digit integer": "1" * 4301,
    "4301-digit n_layer": TINY_CONFIG_TEXT.replace('"n_layer": 1', '"n_layer": ' + "1" * 4301),
    "1e999 epsilon": TINY_CONFIG_TEXT.replace('"layer_norm_epsilon": 1e-05', '"x": 0')[:-1]
    + ', "layer_norm_epsilon": 1e999}',
    "NaN epsilon": json.dumps(dict(TINY.to_hf_dict(), layer_norm_epsilon=float("nan"))),
    "n_embd 10**18": json.dumps(dict(TINY.to_hf_dict(), n_embd=10**18, n_head=1)),
    "task.length a string": json.dumps(dict(TINY.to_hf_dict(), task={"length": "x"})),
    "task.length negative": json.dumps(dict(TINY.to_hf_dict(), task={"length": -5})),
    "task.length 0.5": json.dumps(dict(TINY.to_hf_dict(), task={"length": 0.5})),
    "over 1 MB": " " * (1 << 20) + TINY_CONFIG_TEXT,
    "invalid UTF-8": b'{"n_layer": "\xff"}',
    "BOM": "\ufeff" + TINY_CONFIG_TEXT,
    "lone surrogate key": '{"\\ud800": 1}',
    "pristine": TINY_CONFIG_TEXT,
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_CONFIGS))
def test_known_hostile_configs(scratch, name):
    check_config_file(write_config(scratch, KNOWN_HOSTILE_CONFIGS[name]))


@fuzz(150)
@given(data=st.data())
def test_fuzz_config_json_values(scratch, data):
    """A valid config with random JSON values (wrong types, NaN/inf, huge numbers and strings,
    nested junk) at its keys, keys removed, or a random document instead."""
    doc: Any = TINY.to_hf_dict()
    if data.draw(st.integers(0, 9), label="replace") == 0:
        doc = data.draw(json_values, label="doc")
    keys = st.one_of(*[st.sampled_from(CONFIG_KEYS)] * 3, st.text(max_size=6))
    for _ in range(data.draw(st.integers(1, 3), label="edits") if isinstance(doc, dict) else 0):
        key = data.draw(keys, label="key")
        if data.draw(st.integers(0, 4), label="delete") == 0:
            doc.pop(key, None)
        elif key in NESTED_CONFIG_VALUES:
            doc[key] = data.draw(NESTED_CONFIG_VALUES[key] | json_values, label="value")
        else:
            doc[key] = data.draw(json_values, label="value")
    check_config_file(write_config(scratch, json.dumps(doc)))


@fuzz(100)
@given(text=st.one_of(hostile_json_texts, damaged(TINY_CONFIG_TEXT.encode(), (b"[", b"{"), b": ")))
def test_fuzz_config_json_text(scratch, text):
    """Deep nesting, huge numbers and strings, BOMs, NULs, and damaged bytes of a valid file."""
    check_config_file(write_config(scratch, text))


# ---- 3. tokenizer.json, vocab.json + merges.txt -----------------------------------------------


def _pristine_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    merges = [("h", "e"), ("l", "l"), ("Ġ", "w"), ("o", "r")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    return tok.to_str(), json.dumps(vocab, ensure_ascii=False), merges_txt, len(vocab)


TOKENIZER_JSON, VOCAB_JSON, MERGES_TXT, BPE_VOCAB = _pristine_tokenizer()
TEXTS = ["hello world", "a", " ", "héllo\n\t🤖", "\x00", "x" * 200]


def tokenizer_dir(scratch: Path, files: dict[str, str | bytes]) -> Path:
    d = fresh(scratch)
    for name, content in files.items():
        raw = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
        (d / name).write_bytes(raw)
    return d


def check_tokenizer_dir(d: Path, kind: str, blame: tuple[str, ...], text: str = "hello world"):
    """from_dir, then encode/decode a short text: a usable tokenizer or a one-line
    TokenizerError naming the folder and the file at fault (one of `blame`); the token count
    stays within what the text and the file justify (no padding a 3-letter text to millions of
    tokens)."""
    CASES[kind] += 1
    tok, error = bounded(lambda: BPETokenizer.from_dir(d))
    if error is not None:
        msg = refused(error, TokenizerError, str(d))
        assert any(name in msg for name in blame), f"{' or '.join(blame)} not named: {msg!r}"
        return
    assert isinstance(tok, BPETokenizer)
    ids, error = bounded(lambda: tok.encode(text))
    if error is not None:
        refused(error, TokenizerError, *(str(d / name) for name in blame), "text")
        return
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.ndim == 1
    file_bytes = sum(p.stat().st_size for p in d.iterdir())
    assert len(ids) <= 4 * len(text.encode()) + file_bytes, f"{len(ids)} tokens for {text!r}"
    out, error = bounded(lambda: (tok.decode(ids[:64]), tok.piece(0)))
    if error is not None:
        refused(error, TokenizerError, *(str(d / name) for name in blame))


def tj(**changes) -> str:
    doc = json.loads(TOKENIZER_JSON)
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for p in parents:
            target = target[p]
        target[last] = value
    return json.dumps(doc)


KNOWN_HOSTILE_TOKENIZERS = {
    "deep arrays": "[" * 100_000,
    "deep objects": '{"a":' * 100_000,
    "empty": "",
    "precompiled normalizer that panics": tj(
        normalizer={"type": "Precompiled", "precompiled_charsmap": "AAAA"}
    ),
    "unk token missing from the vocab": tj(
        model__unk_token="zz", model__vocab={"a": 0}, model__merges=[]
    ),
    "padding to 10**6 tokens": tj(
        padding={
            "strategy": {"Fixed": 10**6},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 0,
            "pad_type_id": 0,
            "pad_token": "a",
        }
    ),
    "stride >= max_length": tj(
        truncation={"direction": "Right", "max_length": 2, "strategy": "LongestFirst", "stride": 5}
    ),
    "added token id 2**40": tj(
        added_tokens=[
            {"id": 2**40, "content": "x", "single_word": False, "lstrip": False}
            | {"rstrip": False, "normalized": False, "special": True}
        ]
    ),
    "pristine": TOKENIZER_JSON,
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_TOKENIZERS))
def test_known_hostile_tokenizer_json(scratch, name):
    d = tokenizer_dir(scratch, {"tokenizer.json": KNOWN_HOSTILE_TOKENIZERS[name]})
    check_tokenizer_dir(d, "tokenizer.json", ("tokenizer.json",))


@fuzz(100)
@given(raw=damaged(TOKENIZER_JSON.encode(), (b"[", b"{", b'"'), b":"), text=st.sampled_from(TEXTS))
def test_fuzz_tokenizer_json_bytes(scratch, raw, text):
    d = tokenizer_dir(scratch, {"tokenizer.json": raw})
    check_tokenizer_dir(d, "tokenizer.json", ("tokenizer.json",), text)


big = st.integers(0, 10**6) | st.sampled_from([0, 1, 10**4, 10**6, 2**32 - 1, 2**32, 2**63, -1])
# Padding lengths stay <= 10^5 in-process: the token-count bound catches them cheaply; 10^6
# (100 MiB native: the RSS bound) is a known case, 2^31-1 (aborts) a CLI subprocess case.
pad_len = st.integers(0, 10**5) | st.sampled_from([0, 1, 10**4, 10**5])
tok_texts = st.text(max_size=6) | st.sampled_from(["a", "he", "(", "[", "\\", "(?<", ""])
added_token = st.fixed_dictionaries(
    {
        "id": big,
        "content": tok_texts,
        "single_word": st.booleans(),
        "lstrip": st.booleans(),
        "rstrip": st.booleans(),
        "normalized": st.booleans(),
        "special": st.booleans(),
    }
)
normalizers = st.one_of(
    st.none(),
    st.sampled_from([{"type": "NFC"}, {"type": "NFKD"}, {"type": "Lowercase"}]),
    *[  # twice: the tokenizers package panics on most charsmaps
        st.builds(
            lambda b: {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(b).decode()},
            st.binary(max_size=48),
        )
    ]
    * 2,
    st.builds(
        lambda p, c: {"type": "Replace", "pattern": {"Regex": p}, "content": c},
        tok_texts,
        tok_texts,
    ),
    json_values,
)
pre_tokenizers_ = st.one_of(
    st.builds(
        lambda a, t, r: (
            {"type": "ByteLevel", "add_prefix_space": a, "trim_offsets": t} | {"use_regex": r}
        ),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda p, b, i: {"type": "Split", "pattern": p, "behavior": b, "invert": i},
        st.builds(lambda s: {"Regex": s}, tok_texts)
        | st.builds(lambda s: {"String": s}, tok_texts),
        st.sampled_from(["Removed", "Isolated", "MergedWithPrevious", "Contiguous", "Nope"]),
        st.booleans(),
    ),
    st.builds(
        lambda r, s: {"type": "Metaspace", "replacement": r, "prepend_scheme": s, "split": True},
        tok_texts,
        st.sampled_from(["always", "never", "first", "x"]),
    ),
    json_values,
)
vocab_dicts = st.dictionaries(tok_texts, big, max_size=6)
models_ = st.one_of(
    st.builds(
        lambda v, m, u, d, bf: (
            json.loads(TOKENIZER_JSON)["model"]
            | {"vocab": v, "merges": m, "unk_token": u, "dropout": d, "byte_fallback": bf}
        ),
        vocab_dicts,
        st.lists(st.builds(lambda a, b: f"{a} {b}", tok_texts, tok_texts), max_size=4)
        | st.lists(st.lists(tok_texts, max_size=3), max_size=3),
        st.none() | tok_texts,
        st.none() | st.floats(),
        st.booleans(),
    ),
    st.builds(
        lambda v, u: {"type": "Unigram", "unk_id": u, "vocab": v, "byte_fallback": False},
        st.lists(st.tuples(tok_texts, st.floats()), max_size=5),
        st.none() | big,
    ),
    st.builds(
        lambda v, u, n: (
            {"type": "WordPiece", "unk_token": u, "continuing_subword_prefix": "##"}
            | {"max_input_chars_per_word": n, "vocab": v}
        ),
        vocab_dicts,
        tok_texts,
        big,
    ),
    st.builds(
        lambda v, u: {"type": "WordLevel", "vocab": v, "unk_token": u}, vocab_dicts, tok_texts
    ),
    json_values,
)
paddings = st.fixed_dictionaries(
    {
        "strategy": st.just("BatchLongest") | st.builds(lambda n: {"Fixed": n}, pad_len),
        "direction": st.sampled_from(["Left", "Right", "Up"]),
        "pad_to_multiple_of": st.none() | pad_len,
        "pad_id": big,
        "pad_type_id": big,
        "pad_token": tok_texts,
    }
)
truncations = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["Left", "Right"]),
        "max_length": big,
        "strategy": st.sampled_from(["LongestFirst", "OnlyFirst", "OnlySecond", "Biggest"]),
        "stride": big,
    }
)
templates = st.builds(
    lambda ids, t: {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": i, "type_id": 0}} for i in ids]
        + [{"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {i: {"id": i, "ids": t, "tokens": [i] * len(t)} for i in ids},
    },
    st.lists(tok_texts, max_size=3),
    st.lists(big, max_size=3),
)
components = {
    "normalizer": normalizers,
    "pre_tokenizer": pre_tokenizers_,
    "model": models_,
    "padding": paddings,
    "truncation": truncations,
    "added_tokens": st.lists(added_token, max_size=3) | json_values,
    "post_processor": st.none() | templates | json_values,
    "decoder": st.none() | st.just({"type": "ByteLevel"}) | json_values,
    "version": json_values,
}

# the parts the tokenizers package deserialises with the most code are drawn more often
component_keys = st.sampled_from(
    ["normalizer"] * 3 + ["pre_tokenizer", "model"] * 2 + sorted(set(components) - {"model"})
)


@fuzz(120)
@given(data=st.data())
def test_fuzz_tokenizer_json_components(scratch, data):
    """A valid tokenizer.json with 1-3 components replaced: normalizers (including the
    Precompiled one with random bytes), pre-tokenizers with random regexes, BPE / Unigram /
    WordPiece / WordLevel models with random vocabularies (ids up to 2^63, negative), padding
    and truncation with absurd lengths, added tokens, post-processor templates, junk."""
    doc = json.loads(TOKENIZER_JSON)
    for key in data.draw(st.lists(component_keys, min_size=1, max_size=3, unique=True), "keys"):
        doc[key] = data.draw(components[key], label=key)
    text = data.draw(st.sampled_from(TEXTS), label="text")
    d = tokenizer_dir(scratch, {"tokenizer.json": json.dumps(doc)})
    check_tokenizer_dir(d, "tokenizer.json", ("tokenizer.json",), text)


@fuzz(80)
@given(data=st.data())
def test_fuzz_vocab_and_merges(scratch, data):
    """vocab.json + merges.txt: one of them damaged or random, the other intact; the error
    must name the damaged one."""
    which = data.draw(st.sampled_from(["vocab.json", "merges.txt"]), label="which")
    files: dict[str, str | bytes] = {"vocab.json": VOCAB_JSON, "merges.txt": MERGES_TXT}
    if which == "vocab.json":
        files[which] = data.draw(
            damaged(VOCAB_JSON.encode(), (b"{", b'"'), b": ")
            | st.builds(json.dumps, vocab_dicts | json_values)
            | hostile_json_texts,
            label="vocab",
        )
    else:
        files[which] = data.draw(
            damaged(MERGES_TXT.encode(), (b" ", b"\n"))
            | st.lists(st.builds(lambda a, b: f"{a} {b}", tok_texts, tok_texts)).map("\n".join),
            label="merges",
        )
    d = tokenizer_dir(scratch, files)
    check_tokenizer_dir(d, "vocab.json + merges.txt", (which,), data.draw(st.sampled_from(TEXTS)))


@fuzz(150)
@given(
    vocab=st.lists(st.text(min_size=1, max_size=2), min_size=1, max_size=8, unique=True)
    | st.sampled_from([("A", "B", "C"), ("A", "\n", "C"), ("A", "\r", "\u2028")]),
    text=st.text(max_size=20),
)
def test_fuzz_char_tokenizer_encode(vocab, text):
    """A config.json vocab (any non-empty strings) and any typed text: ids in range, or a
    one-line TokenizerError."""
    CASES["CharTokenizer input"] += 1
    tok = CharTokenizer(tuple(vocab))
    ids, error = bounded(lambda: tok.encode(text))
    if error is not None:
        refused(error, TokenizerError)
        return
    assert ids.dtype == np.int64 and len(ids) == len(text)
    assert ((ids >= 0) & (ids < len(vocab))).all()
    assert tok.decode(ids) == text


# ---- 4. checkpoint folders: a tokenizer beside the weights; replay runs -----------------------

BPE_CFG = tiny_cfg(vocab_size=BPE_VOCAB, block_size=32)


@pytest.fixture(scope="module")
def bpe_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bpe")
    return save_checkpoint(root / "gpt", BPE_CFG, tiny_params(BPE_CFG))


def check_model_dir(d: Path, text: str) -> None:
    """What `llmviz render --model DIR` and the app do with a folder: resolve, tokenise,
    generate, lay out. It may refuse only with the errors the CLI turns into one line."""
    from llmviz_desktop.model.config import ConfigError
    from llmviz_desktop.session.loaded import load_model

    CASES["checkpoint folder (load_model)"] += 1
    model, error = bounded(lambda: load_model(str(d), text))
    if error is not None:
        allowed = {WeightsError, ConfigError, TokenizerError}
        if type(error) not in allowed:
            no_exception(error)  # fails with the traceback
        msg = refused(error, type(error))
        assert str(d) in msg or "text" in msg, f"names neither the folder nor the text: {msg!r}"
        return
    assert model.output_text is not None and model.scene is not None


@fuzz(60)
@given(data=st.data())
def test_fuzz_checkpoint_folder_with_tokenizer(scratch, bpe_checkpoint, data):
    """A GPT-2-style checkpoint with a hostile tokenizer.json beside it: the tokenizer may yield
    no tokens, ids past the model's vocabulary, panics, or absurd padding."""
    d = fresh(scratch) / "gpt"
    shutil.copytree(bpe_checkpoint, d)
    doc = json.loads(TOKENIZER_JSON)
    for key in data.draw(st.lists(component_keys, max_size=2, unique=True), "keys"):
        doc[key] = data.draw(components[key], label=key)
    raw = data.draw(st.just(json.dumps(doc)) | damaged(TOKENIZER_JSON.encode()), label="raw")
    (d / "tokenizer.json").write_bytes(raw.encode() if isinstance(raw, str) else raw)
    check_model_dir(d, data.draw(st.sampled_from(TEXTS[:4]), label="text"))


KNOWN_HOSTILE_MODEL_DIRS = {
    "tokenizer ids past the model's vocabulary": tj(
        model__vocab={"h": 0, "e": 7, "he": 9999}, model__merges=[["h", "e"]]
    ),
    "tokenizer that yields no tokens": tj(model__vocab={"q": 0}, model__merges=[]),
    "tokenizer that panics": KNOWN_HOSTILE_TOKENIZERS["precompiled normalizer that panics"],
    "tokenizer with a missing unk token": KNOWN_HOSTILE_TOKENIZERS[
        "unk token missing from the vocab"
    ],
    "pristine": TOKENIZER_JSON,
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_MODEL_DIRS))
def test_known_hostile_checkpoint_folders(scratch, bpe_checkpoint, name):
    d = fresh(scratch) / "gpt"
    shutil.copytree(bpe_checkpoint, d)
    (d / "tokenizer.json").write_text(KNOWN_HOSTILE_MODEL_DIRS[name])
    check_model_dir(d, "hello")


OTHER_MODEL = tiny_cfg(n_embd=6, n_head=3)


def damage_step(d: Path, how: str, draw) -> bool:
    """Damage checkpoint folder d in place; True when it can no longer load."""
    weights, config = d / "model.safetensors", d / "config.json"
    if how == "truncate":
        weights.write_bytes(PRISTINE[: draw(st.integers(0, len(PRISTINE) - 1), label="cut")])
    elif how == "flip":
        bits = draw(st.lists(st.integers(0, 8 * len(PRISTINE) - 1), min_size=1, max_size=4))
        weights.write_bytes(flip_bits(PRISTINE, bits))
        return False
    elif how == "zero-element":
        weights.write_bytes(forged_safetensors({"wte.weight": _dims(0, 2**63)}))
    elif how == "config":
        doc = TINY.to_hf_dict()
        doc[draw(st.sampled_from(CONFIG_KEYS), label="key")] = draw(json_values, label="value")
        config.write_text(json.dumps(doc))
        return False
    elif how == "deep-config":
        config.write_text("[" * 50_000)
    elif how == "no-weights":
        weights.unlink()
    elif how == "no-config":
        config.unlink()
    elif how == "other-model":
        shutil.rmtree(d)
        save_checkpoint(d, OTHER_MODEL, tiny_params(OTHER_MODEL))
        return False
    elif how == "a-file":
        shutil.rmtree(d)
        d.write_bytes(b"not a folder")
        return False  # not a checkpoint folder at all: ignored, no warning
    return how != "good"


metrics_lines = st.one_of(
    st.builds(lambda s, x: json.dumps({"step": s, "loss": x}), st.integers(0, 10**6), st.floats()),
    st.builds(json.dumps, json_values),
    st.text(max_size=20),
    st.builds(deep_json, st.sampled_from([2000, 50_000]), st.sampled_from(["arrays", "objects"])),
    st.sampled_from(["1" * 5000, '{"step": 1' + "0" * 5000 + "}", "\x00", '{"step": 3']),
)


@fuzz(40)
@given(data=st.data())
def test_fuzz_replay_run_folder(scratch, data):
    """A run folder: step-NNNNNN checkpoints, each good or damaged, and a metrics.jsonl of
    good rows, torn lines, junk, deep nesting and huge numbers. Good checkpoints of the first
    model are kept; every other step folder gives one warning naming it; none usable is one
    ReplayError naming the folder."""
    run = fresh(scratch) / "run"
    run.mkdir()
    hows = data.draw(
        st.lists(
            st.sampled_from(
                ["good", "good", "truncate", "flip", "zero-element", "config", "deep-config"]
                + ["no-weights", "no-config", "other-model", "a-file"]
            ),
            min_size=1,
            max_size=4,
        ),
        label="steps",
    )
    for i, how in enumerate(hows):
        d = run / f"step-{100 * (i + 1):06d}"
        d.mkdir()
        (d / "model.safetensors").write_bytes(PRISTINE)
        (d / "config.json").write_text(TINY_CONFIG_TEXT)
        damage_step(d, how, data.draw)
    lines = data.draw(st.lists(metrics_lines, max_size=6), label="metrics")
    if lines or data.draw(st.booleans(), label="metrics-file"):
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n", errors="surrogatepass")

    # what should load: each folder alone, then only those matching the first usable model
    expected, first = [], None
    for d in sorted(p for p in run.iterdir() if p.is_dir()):
        try:
            cfg, _ = load_checkpoint(d)
        except Exception:  # noqa: BLE001 - judged by the replay call below
            continue
        key = (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.block_size, cfg.bias)
        first = first or key
        if key == first:
            expected.append(int(d.name.removeprefix("step-")))
    step_dirs = [p for p in run.iterdir() if p.is_dir()]

    CASES["checkpoint folder (replay)"] += 1
    replay, error = bounded(lambda: open_replay(run), files=len(step_dirs) + 1)
    if error is not None:
        refused(error, ReplayError, str(run))
        assert not expected, f"usable checkpoints {expected} but: {error}"
        return
    assert replay.steps == expected
    assert len(replay.warnings) == len(step_dirs) - len(expected)
    for w in replay.warnings:
        assert len(w.splitlines()) == 1, f"warning is not one line: {w[:300]!r}"
        assert re.match(r"skipped step-\d{6}: ", w), w
    for row in replay.metrics:
        assert isinstance(row, dict) and isinstance(row["step"], int)


KNOWN_HOSTILE_METRICS = {
    "deep arrays line": "[" * 50_000,
    "deep objects line": '{"a":' * 50_000,
    "5000-digit step": '{"step": ' + "1" * 5000 + "}",
    "torn last line": '{"step": 1, "loss": 0.5}\n{"step": 2, "lo',
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_METRICS))
def test_known_hostile_metrics_jsonl(scratch, name):
    CASES["checkpoint folder (replay)"] += 1
    run = fresh(scratch) / "run"
    save_checkpoint(run / "step-000001", TINY, TINY_PARAMS)
    (run / "metrics.jsonl").write_text('{"step": 0}\n' + KNOWN_HOSTILE_METRICS[name] + "\n")
    replay, error = bounded(lambda: open_replay(run))
    if error is not None:
        refused(error, ReplayError, str(run / "metrics.jsonl"))
        pytest.fail(f"one bad metrics line made the whole run unusable: {error}")
    assert replay.steps == [1] and replay.metrics[0] == {"step": 0}


# ---- 5. walkthrough chapters ------------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def usable_chapter(ch: Chapter) -> None:
    """An accepted chapter drives the camera and the animations: finite numbers, no bools
    standing in for numbers."""
    assert isinstance(ch, Chapter) and ch.steps
    for s in ch.steps:
        assert _number(s.duration) and 0.1 <= s.duration <= 120
        if isinstance(s.camera, dict):
            for k in ("yaw", "pitch", "margin", "distance", "fov"):
                if k in s.camera:
                    assert _number(s.camera[k]), f"camera.{k} = {s.camera[k]!r} accepted"
            if "target" in s.camera:
                assert all(_number(v) for v in s.camera["target"]), s.camera["target"]
        if s.animation.kind == "dot":
            cell = s.animation.get("cell")
            assert all(type(c) is int for c in cell), f"animation.cell = {cell!r} accepted"


def check_chapter_file(path: Path) -> Chapter | None:
    CASES["walkthrough chapter (.toml)"] += 1
    chapter, error = bounded(lambda: load_chapter(path))
    if error is not None:
        refused(error, ChapterError, path.name)
        return None
    usable_chapter(chapter)
    return chapter


def write_chapter(scratch: Path, text: str | bytes, name: str = "50-fuzz.toml") -> Path:
    path = fresh(scratch) / name
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


MINIMAL = 'id = "x"\ntitle = "T"\n\n[[steps]]\ntitle = "s"\ntext = "t"\n'
KNOWN_HOSTILE_CHAPTERS = {
    "deep arrays": "a = " + "[" * 100_000,
    "closed deep arrays": "a = " + "[" * 2000 + "]" * 2000,
    "deep inline tables": "a = " + "{b = " * 2000 + "1" + "}" * 2000,
    "newline in a chapter key": '"a\\nb" = 1\n' + MINIMAL,
    "newline in a step key": MINIMAL + '"x\\ny" = 1\n',
    "CR in a camera key": MINIMAL + 'camera = {frame = ["*"], "q\\rz" = 1}\n',
    "U+2028 in an animation key": MINIMAL + 'animation = {kind = "none", "q\\u2028z" = 1}\n',
    "nan yaw": MINIMAL + 'camera = {frame = ["*"], yaw = nan}\n',
    "inf distance": MINIMAL + "camera = {target = [0, 0, 0], distance = inf}\n",
    "bool target": MINIMAL + "camera = {target = [true, 0, 0], distance = 5}\n",
    "bool cell": MINIMAL + 'animation = {kind = "dot", tensor = "x", cell = [true, false]}\n',
    "unhashable animation kind": MINIMAL + "animation = {kind = []}\n",
    "over 256 KB": MINIMAL + "# " + "x" * (256 * 1024) + "\n",
    "invalid UTF-8": b'id = "\xff"\n',
    "NUL": b'id = "x"\x00\n',
    "empty": "",
    "minimal": MINIMAL,
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_CHAPTERS))
def test_known_hostile_chapters(scratch, name):
    check_chapter_file(write_chapter(scratch, KNOWN_HOSTILE_CHAPTERS[name]))


@fuzz(150)
@given(data=st.data())
def test_fuzz_chapter_bytes(scratch, data):
    """Truncations, bit flips, overwrites and insertions (deep '[' runs among them) of the
    shipped chapter files."""
    original = data.draw(st.sampled_from(CHAPTER_FILES), label="chapter").read_bytes()
    raw = data.draw(damaged(original, (b"[", b"{", b'"', b"\n", b"="), b"= "), label="raw")
    check_chapter_file(write_chapter(scratch, raw))


def _edit(doc: dict, draw) -> None:
    """Set, add or delete one field somewhere in a parsed chapter."""
    listed = doc.get("steps")
    steps = [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []
    where = draw(st.sampled_from(["chapter", "step", "camera", "animation"]), label="where")
    if where == "chapter" or not steps:
        target: dict = doc
        keys = ["id", "title", "model", "revealed", "steps"]
    else:
        step = draw(st.sampled_from(steps), label="step")
        target, keys = step, ["title", "text", "duration", "t", "camera", "show", "fade"]
        keys += ["highlight", "model", "animation"]
        if where == "camera":
            if not isinstance(step.get("camera"), dict):
                step["camera"] = {"frame": ["*"]}
            target = step["camera"]
            keys = ["frame", "yaw", "pitch", "margin", "target", "distance", "fov"]
        elif where == "animation":
            if not isinstance(step.get("animation"), dict):
                step["animation"] = {"kind": draw(st.sampled_from(["reveal", "dot", "softmax"]))}
            target = step["animation"]
            keys = ["kind", "tensors", "order", "tensor", "cell", "prefix"]
    key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(keys), toml_keys), label="key")
    if draw(st.integers(0, 5), label="delete") == 0:
        target.pop(key, None)
    elif key in NUMBER_FIELDS:
        target[key] = draw(edge_numbers | edge_toml_values | toml_values, label="value")
    else:
        target[key] = draw(edge_toml_values | toml_values, label="value")


@fuzz(200)
@given(data=st.data())
def test_fuzz_chapter_fields(scratch, data):
    """A shipped chapter with 1-3 fields (chapter, step, camera or animation) set to random
    TOML values of any type (NaN/inf, 2^63-1, dates, nested tables), new keys (some with
    newlines), or removed."""
    doc = tomllib.loads(data.draw(st.sampled_from(CHAPTER_FILES), label="chapter").read_text())
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        _edit(doc, data.draw)
    check_chapter_file(write_chapter(scratch, toml_document(doc)))


@fuzz(80)
@given(doc=st.dictionaries(toml_keys, toml_values, max_size=5))
def test_fuzz_chapter_random_toml(scratch, doc):
    check_chapter_file(write_chapter(scratch, toml_document(doc)))


@fuzz(25)
@given(data=st.data())
def test_fuzz_chapter_folder(scratch, data):
    """load_chapters on 2-4 shipped chapters plus 1-3 damaged copies: every shipped chapter is
    kept, in name order; each bad file (or duplicate id) is one line naming it; nothing is
    lost silently."""
    d = fresh(scratch)
    good = sorted(
        data.draw(
            st.lists(st.sampled_from(CHAPTER_FILES), min_size=2, max_size=4, unique=True), "good"
        )
    )
    for p in good:
        shutil.copy(p, d / p.name)
    n = data.draw(st.integers(1, 3), label="copies")
    for k in range(n):
        original = data.draw(st.sampled_from(CHAPTER_FILES), label="chapter").read_bytes()
        raw = data.draw(damaged(original, (b"[", b"\n"), b"= "), label="raw")
        (d / f"zz-fuzz-{k}.toml").write_bytes(raw)  # sorts after the shipped names
    CASES["walkthrough folder"] += 1
    result, error = bounded(lambda: load_chapters(d), files=len(good) + n)
    no_exception(error)
    shipped = [SHIPPED_IDS[p] for p in good]
    assert [c.id for c in result.chapters][: len(shipped)] == shipped
    assert len(result.chapters) + len(result.errors) == len(good) + n
    for err in result.errors:
        assert len(err.splitlines()) == 1, f"not one line: {err[:300]!r}"
        assert re.match(r"zz-fuzz-\d\.toml: ", err), err


# ---- 6. settings.json -----------------------------------------------------------------------

SETTINGS_TEXT = json.dumps(
    {
        "window_width": 1280,
        "window_height": 800,
        "model": "nano-sort",
        "symlog": False,
        "normalise": "tensor",
        "chapter": "",
        "step": 0,
        "recent_checkpoints": ["/tmp/a"],
    },
    indent=2,
)
SETTINGS_KEYS = [f for f in json.loads(SETTINGS_TEXT)]


def check_settings_file(path: Path) -> None:
    """Never raises: the settings, or the defaults with a one-line warning naming the file and
    the corrupt file moved aside."""
    CASES["settings.json"] += 1
    result, error = bounded(lambda: load_settings(path))
    no_exception(error)
    s, warning = result
    assert isinstance(s, Settings)
    if warning is not None:
        assert len(warning.splitlines()) == 1 and str(path) in warning, warning[:300]
        assert s == Settings()
        assert not path.exists(), "the corrupt file was not moved aside"
        assert len(list(path.parent.glob(f"{path.name}.corrupt-*"))) == 1
        return
    for name in ("window_width", "window_height", "step"):
        v = getattr(s, name)
        assert type(v) is int and 0 <= v < 1 << 16
    assert type(s.symlog) is bool and s.normalise in ("tensor", "global")
    assert len(s.recent_checkpoints) <= 8
    for text in [s.model, s.chapter, *s.recent_checkpoints]:
        try:  # printed in warnings and used as paths: must be encodable
            text.encode("utf-8")
        except UnicodeEncodeError:
            pytest.fail(f"accepted a string that is not valid Unicode: {text!r}", pytrace=False)


def write_settings(scratch: Path, text: str | bytes) -> Path:
    path = fresh(scratch) / "settings.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


KNOWN_HOSTILE_SETTINGS = {
    "deep arrays": "[" * 60_000,
    "closed deep arrays": deep_json(5000, "arrays"),
    "4301-digit width": SETTINGS_TEXT.replace("1280", "1" * 4301),
    "lone surrogate model": json.dumps({"model": "\ud800"}),
    "over 64 KB": " " * (64 * 1024 + 1) + "{}",
    "invalid UTF-8": b'{"model": "\xff"}',
    "pristine": SETTINGS_TEXT,
}


@pytest.mark.parametrize("name", list(KNOWN_HOSTILE_SETTINGS))
def test_known_hostile_settings(scratch, name):
    check_settings_file(write_settings(scratch, KNOWN_HOSTILE_SETTINGS[name]))


@fuzz(120)
@given(data=st.data())
def test_fuzz_settings(scratch, data):
    how = data.draw(st.sampled_from(["fields", "bytes", "text"]), label="how")
    if how == "fields":
        doc: Any = json.loads(SETTINGS_TEXT)
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            key = data.draw(st.sampled_from(SETTINGS_KEYS) | st.text(max_size=5), label="key")
            doc[key] = data.draw(json_values, label="value")
        text: str | bytes = json.dumps(doc)
    elif how == "bytes":
        text = data.draw(damaged(SETTINGS_TEXT.encode(), (b"[", b"{"), b": "), label="raw")
    else:
        text = data.draw(hostile_json_texts | st.builds(json.dumps, json_values), label="text")
    check_settings_file(write_settings(scratch, text))


# ---- 7. the CLI: a broken checkpoint folder is one line on stderr and exit 2 --------------------


BLAME = {"model": "model.safetensors", "config": "config.json", "tokenizer": "tokenizer.json"}


def _limit_memory() -> None:  # in the child: a runaway allocation fails instead of swapping
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def test_cli_broken_checkpoint_folders(scratch, bpe_checkpoint):
    """Slow (a few subprocesses, run in parallel): infer and render on broken folders."""
    sort_cfg = tiny_cfg(vocab_size=3, block_size=11, vocab=("A", "B", "C"))
    bad_task = json.dumps(dict(sort_cfg.to_hf_dict(), task={"length": "x"}))

    def folder(name: str, weights=None, config=None, tokenizer=None, base=None) -> Path:
        d = fresh(scratch) / name
        if base is not None:
            shutil.copytree(base, d)
        else:
            save_checkpoint(d, sort_cfg, tiny_params(sort_cfg))
        if weights is not None:
            (d / "model.safetensors").write_bytes(weights)
        if config is not None:
            (d / "config.json").write_text(config)
        if tokenizer is not None:
            (d / "tokenizer.json").write_text(tokenizer)
        return d

    pad = json.loads(KNOWN_HOSTILE_TOKENIZERS["padding to 10**6 tokens"])
    pad["padding"]["strategy"]["Fixed"] = 2**31 - 1
    cases = {
        "infer: truncated weights": ("infer", folder("trunc", weights=PRISTINE[:100]), "model"),
        "infer: zero-element tensor with dim 2**63": (
            "infer",
            folder("zero", weights=forged_safetensors({"wte.weight": _dims(0, 2**63)})),
            "model",
        ),
        "infer: deep config.json": ("infer", folder("deep", config="[" * 100_000), "config"),
        "infer: task.length a string": (
            "infer",
            folder("task", config=bad_task),
            "config",
        ),
        "render: truncated weights": ("render", folder("rtrunc", weights=PRISTINE[:50]), "model"),
        "render: tokenizer that panics": (
            "render",
            folder(
                "panic",
                tokenizer=KNOWN_HOSTILE_MODEL_DIRS["tokenizer that panics"],
                base=bpe_checkpoint,
            ),
            "tokenizer",
        ),
        "render: tokenizer ids past the vocabulary": (
            "render",
            folder(
                "ids",
                tokenizer=KNOWN_HOSTILE_MODEL_DIRS["tokenizer ids past the model's vocabulary"],
                base=bpe_checkpoint,
            ),
            "tokenizer",
        ),
        "render: tokenizer padding to 2**31-1 tokens": (
            "render",
            folder("pad", tokenizer=json.dumps(pad), base=bpe_checkpoint),
            "may-render",  # refused, or ignored (the app pads nothing): both fine
        ),
    }
    env = dict(os.environ, RUST_BACKTRACE="0", LLMVIZ_STATE_DIR=str(scratch / "state"))
    procs = {}
    for name, (command, d, blame) in cases.items():
        args = [sys.executable, "-m", "llmviz_desktop.cli", command, "--model", str(d)]
        if command == "infer":
            args += ["--input", "AB"]
        else:
            args += ["--out", str(d / "out.png"), "--input", "he"]
        procs[name] = (
            subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=env,
                preexec_fn=_limit_memory,
            ),
            d,
            blame,
        )
    failures = []
    for name, (p, d, blame) in procs.items():
        CASES["CLI run"] += 1
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            failures.append(f"{name}: hung")
            continue
        lines = err.strip().splitlines()
        if blame == "may-render" and p.returncode in (0, 2) and len(lines) <= 1:
            continue  # rendered (exit 0), or one line: refused, or no OpenGL here
        named = blame in BLAME and str(d) in err and BLAME[blame] in err
        if p.returncode != 2 or len(lines) != 1 or "Traceback" in err or not named:
            tail = " | ".join(lines[-3:])[-400:]
            failures.append(f"{name}: exit {p.returncode}, {len(lines)} stderr lines: {tail}")
    assert not failures, "\n".join(failures)


# ---- case counts ----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _report_case_counts(request):
    yield
    if not CASES:
        return
    lines = [f"  {kind:32s} {n:5d}" for kind, n in sorted(CASES.items())]
    text = "\nfuzz cases per file kind:\n" + "\n".join(lines) + f"\n  {'total':32s} "
    text += f"{sum(CASES.values()):5d}\n"
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            sys.stdout.write(text)
    else:
        sys.stdout.write(text)
