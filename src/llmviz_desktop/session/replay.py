"""Replaying a training run: the checkpoints `llmviz train` wrote, on a timeline of steps, with
weights interpolated between checkpoints so playing and scrubbing are smooth (pure numpy).

Memory stays bounded in the length of the run: opening validates every checkpoint but keeps
none of its weights (a few are cached, loaded again on demand), and metrics.jsonl is streamed
line by line into compact columns, one row per step, thinned out past MAX_METRIC_ROWS."""

from __future__ import annotations

import bisect
import json
import math
import re
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.config import GPTConfig
from ..model.params import Params
from ..model.weights import WeightsError, load_checkpoint

STEP_DIR = re.compile(r"^step-(\d+)$")
METRICS_FILE = "metrics.jsonl"
MAX_METRIC_LINE = 64 * 1024  # bytes; a row `llmviz train` writes is under 200
MAX_METRIC_ROWS = 500_000  # kept in memory (about 40 bytes each); more are thinned out evenly
METRIC_FIELDS = ("loss", "accuracy", "lr", "sorted")  # the numbers a row may carry besides step
MAX_STEP = 1 << 62
CACHED_CHECKPOINTS = 3  # weights kept in memory: the pair being interpolated, and one more


class ReplayError(ValueError):
    """A directory that holds no usable checkpoint; one line naming it."""


def _load_params(path: Path) -> Params:
    _cfg, params = load_checkpoint(path)
    # own float32 copies: interpolation arithmetic should not touch memory maps, and no file
    # stays mapped (or open) once the copy is made
    return {k: np.array(v) for k, v in params.items()}


@dataclass
class Checkpoint:
    step: int
    path: Path

    @property
    def params(self) -> Params:
        """This checkpoint's weights, read from its folder (a fresh copy each time)."""
        return _load_params(self.path)


@dataclass
class Metrics:
    """metrics.jsonl rows as columns: steps ascending and unique (a later row for the same
    step wins), each field a float64 column with NaN where a row did not have it."""

    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steps)

    def row(self, i: int) -> dict:
        out: dict = {"step": int(self.steps[i])}
        for name, col in self.columns.items():
            if self.present[name][i]:
                v = float(col[i])
                out[name] = int(v) if name == "sorted" else v
        return out

    def at(self, step: float) -> dict | None:
        i = int(np.searchsorted(self.steps, step, side="right")) - 1
        return self.row(i) if i >= 0 else None


@dataclass
class Replay:
    directory: Path
    config: GPTConfig
    checkpoints: list[Checkpoint]
    warnings: list[str] = field(default_factory=list)  # one line per skipped checkpoint
    table: Metrics = field(default_factory=Metrics)  # metrics.jsonl, if present
    metrics_warnings: list[str] = field(default_factory=list)  # one line per kind of bad row
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    @property
    def metrics(self) -> list[dict]:
        """The metrics rows kept, as dicts (built on each call)."""
        return [self.table.row(i) for i in range(len(self.table))]

    @property
    def steps(self) -> list[int]:
        return [c.step for c in self.checkpoints]

    @property
    def first(self) -> int:
        return self.checkpoints[0].step

    @property
    def last(self) -> int:
        return self.checkpoints[-1].step

    def _params(self, i: int) -> Params:
        """Checkpoint i's weights, from the small cache or its folder. A checkpoint that stopped
        loading since the replay was opened (deleted, overwritten) is dropped with a warning;
        when none is left, ReplayError."""
        c = self.checkpoints[i]
        if c.path in self._cache:
            self._cache.move_to_end(c.path)
            return self._cache[c.path]
        try:
            params = _load_params(c.path)
        except (WeightsError, OSError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.warnings.append(f"skipped {c.path.name}: {msg}")
            del self.checkpoints[i]
            if not self.checkpoints:
                raise ReplayError(f"{self.directory}: no usable checkpoint left ({msg})") from None
            raise _Retry from None
        self._cache[c.path] = params
        while len(self._cache) > CACHED_CHECKPOINTS:
            self._cache.popitem(last=False)
        return params

    def params_at(self, step: float) -> Params:
        """Weights at a (fractional) training step: a checkpoint's own weights exactly at its
        step, linear interpolation in between, clamped to the first and last."""
        while True:
            try:
                return self._params_at(step)
            except _Retry:
                continue

    def _params_at(self, step: float) -> Params:
        steps = self.steps
        if step <= steps[0]:
            return self._params(0)
        if step >= steps[-1]:
            return self._params(len(steps) - 1)
        i = bisect.bisect_right(steps, step) - 1
        a_step, b_step = steps[i], steps[i + 1]
        if step == a_step:
            return self._params(i)
        a, b = self._params(i), self._params(i + 1)
        w = np.float32((step - a_step) / (b_step - a_step))
        return {k: a[k] + w * (b[k] - a[k]) for k in a}

    def metrics_at(self, step: float) -> dict | None:
        """The metrics row of the last step at or before a step."""
        return self.table.at(step)


class _Retry(Exception):
    """A checkpoint was dropped while loading; look the step up again."""


def open_replay(directory: str | Path) -> Replay:
    directory = Path(directory)
    if not directory.is_dir():
        raise ReplayError(f"{directory}: no such directory of checkpoints")
    found = []
    for path in directory.iterdir():
        m = STEP_DIR.match(path.name)
        if m and path.is_dir():
            found.append((int(m.group(1)), path))
    found.sort()
    checkpoints: list[Checkpoint] = []
    warnings: list[str] = []
    config: GPTConfig | None = None
    for step, path in found:
        try:
            cfg, params = load_checkpoint(path)  # validated in full, then let go
        except WeightsError as e:
            warnings.append(f"skipped {path.name}: {e}")
            continue
        del params
        if config is None:
            config = cfg
        elif _shape_key(cfg) != _shape_key(config):
            warnings.append(
                f"skipped {path.name}: a different model ({cfg.n_layer} layers, n_embd "
                f"{cfg.n_embd}) than the first checkpoint ({config.n_layer}, {config.n_embd})"
            )
            continue
        checkpoints.append(Checkpoint(step, path))
    if config is None or not checkpoints:
        detail = f" ({len(warnings)} skipped: {warnings[0]})" if warnings else ""
        raise ReplayError(f"{directory}: no usable step-NNNNNN checkpoint{detail}")
    table, metrics_warnings = read_metrics(directory / METRICS_FILE)
    return Replay(directory, config, checkpoints, warnings, table, metrics_warnings)


def _shape_key(cfg: GPTConfig) -> tuple:
    return (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.block_size, cfg.bias)


def _lines(f, limit: int):
    """(line number, bytes) for each line of a binary file, None for a line over `limit`
    bytes (skipped without being held in memory)."""
    n = 0
    while True:
        line = f.readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) > limit:
            while line and not line.endswith(b"\n"):  # drain the rest of the long line
                line = f.readline(1 << 16)
            yield n, None
        else:
            yield n, line


def _row_problem(row: object) -> str | None:
    """Why a parsed metrics line is not a usable row, or None."""
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not an object"
    step = row.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        return f'"step" is {_kind(step)}, expected an integer'
    if not 0 <= step < MAX_STEP:
        return f'"step" {step} is out of range'
    for name in METRIC_FIELDS:
        if name in row:
            v = row[name]
            if not isinstance(v, int | float) or isinstance(v, bool):
                return f'"{name}" is {_kind(v)}, expected a number'
            try:
                finite = math.isfinite(v)
            except OverflowError:
                finite = False
            if not finite:
                return f'"{name}" is {v!r:.20}, not a finite number'
    return None


def _kind(v: object) -> str:
    if v is None:
        return "missing or null"
    names = {str: "a string", list: "a list", dict: "an object", bool: "a boolean"}
    return names.get(type(v), f"a {type(v).__name__}")


class _Columns:
    """Rows appended in file order as compact arrays (a later row for a step wins)."""

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = {name: array("d") for name in METRIC_FIELDS}
        self.thinned = False

    def add(self, step: int, row: dict) -> None:
        self.steps.append(step)
        for name, col in self.values.items():
            col.append(float(row[name]) if name in row else math.nan)
        if len(self.steps) >= 2 * MAX_METRIC_ROWS:
            self.compact()

    def compact(self) -> Metrics:
        """One row per step (the later one in the file), steps ascending, then at most
        MAX_METRIC_ROWS of them, evenly spaced; the arrays are replaced by the result."""
        steps = np.array(self.steps, np.int64)
        idx = np.argsort(steps, kind="stable")  # equal steps stay in file order
        s = steps[idx]
        idx = idx[np.r_[s[1:] != s[:-1], True]] if len(s) else idx  # the last of each step
        if len(idx) > MAX_METRIC_ROWS:
            keep = np.unique(np.linspace(0, len(idx) - 1, MAX_METRIC_ROWS).round())
            idx = idx[keep.astype(np.int64)]
            self.thinned = True
        out = Metrics(steps[idx], {}, {})
        self.steps = array("q", out.steps.tobytes())
        for name in METRIC_FIELDS:
            col = np.array(self.values[name], np.float64)[idx]
            self.values[name] = array("d", col.tobytes())
            present = ~np.isnan(col)
            if present.any():
                out.columns[name], out.present[name] = col, present
        return out


def read_metrics(path: Path) -> tuple[Metrics, list[str]]:
    """Stream metrics.jsonl: every line at most MAX_METRIC_LINE bytes is parsed; rows whose
    fields have the wrong type are skipped, and each kind of skip gives one warning line
    naming the file (with the first line it happened on and how many lines in all)."""
    cols = _Columns()
    skipped: dict[str, list] = {}  # kind -> [count, first line number, detail]

    def skip(kind: str, n: int, detail: str) -> None:
        entry = skipped.setdefault(kind, [0, n, detail])
        entry[0] += 1

    try:
        if not path.is_file():
            return Metrics(), []
        with open(path, "rb") as f:
            lines = _lines(f, MAX_METRIC_LINE)
            last_bad: tuple[int, str] | None = None
            for n, line in lines:
                if last_bad is not None:  # not the last line after all: count it
                    skip("unreadable", *last_bad)
                    last_bad = None
                if line is None:
                    skip("long", n, f"over {MAX_METRIC_LINE // 1024} KB")
                    continue
                if not line.strip():
                    continue
                try:
                    row = json.loads(line.decode("utf-8", errors="replace"))
                except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
                    # a torn last line is what an interrupted run leaves: not worth a warning
                    last_bad = (n, (str(e).splitlines() or ["not JSON"])[0][:80])
                    continue
                problem = _row_problem(row)
                if problem is not None:
                    skip("type", n, problem)
                    continue
                cols.add(row["step"], row)
    except OSError as e:
        return Metrics(), [f"{path}: cannot read ({e.strerror or e}); no metrics shown"]
    table = cols.compact()
    words = {"type": "with a wrong type", "long": "too long", "unreadable": "not JSON"}
    warnings = []
    for kind, (count, first, detail) in skipped.items():
        rows = "row" if count == 1 else "rows"
        warnings.append(f"{path}: skipped {count} {rows} {words[kind]} (line {first}: {detail})")
    if cols.thinned:
        warnings.append(
            f"{path}: more than {MAX_METRIC_ROWS:,} steps; every few are shown (evenly spaced)"
        )
    return table, warnings
