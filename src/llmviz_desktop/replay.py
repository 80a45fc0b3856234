"""Replaying a training run: the checkpoints `llmviz train` wrote, on a timeline of steps, with
weights interpolated between checkpoints so playing and scrubbing are smooth (pure numpy)."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .model.config import GPTConfig
from .model.params import Params
from .model.weights import WeightsError, load_checkpoint

STEP_DIR = re.compile(r"^step-(\d+)$")


class ReplayError(ValueError):
    """A directory that holds no usable checkpoint; one line naming it."""


@dataclass
class Checkpoint:
    step: int
    path: Path
    params: Params


@dataclass
class Replay:
    directory: Path
    config: GPTConfig
    checkpoints: list[Checkpoint]
    warnings: list[str] = field(default_factory=list)  # one line per skipped checkpoint
    metrics: list[dict] = field(default_factory=list)  # metrics.jsonl rows, if present

    @property
    def steps(self) -> list[int]:
        return [c.step for c in self.checkpoints]

    @property
    def first(self) -> int:
        return self.checkpoints[0].step

    @property
    def last(self) -> int:
        return self.checkpoints[-1].step

    def params_at(self, step: float) -> Params:
        """Weights at a (fractional) training step: a checkpoint's own weights exactly at its
        step, linear interpolation in between, clamped to the first and last."""
        steps = self.steps
        if step <= steps[0]:
            return self.checkpoints[0].params
        if step >= steps[-1]:
            return self.checkpoints[-1].params
        i = bisect.bisect_right(steps, step) - 1
        a, b = self.checkpoints[i], self.checkpoints[i + 1]
        if step == a.step:
            return a.params
        w = np.float32((step - a.step) / (b.step - a.step))
        return {k: a.params[k] + w * (b.params[k] - a.params[k]) for k in a.params}

    def metrics_at(self, step: float) -> dict | None:
        """The last metrics row at or before a step."""
        rows = [m for m in self.metrics if m.get("step", 0) <= step]
        return rows[-1] if rows else None


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
            cfg, params = load_checkpoint(path)
        except WeightsError as e:
            warnings.append(f"skipped {path.name}: {e}")
            continue
        if config is None:
            config = cfg
        elif _shape_key(cfg) != _shape_key(config):
            warnings.append(
                f"skipped {path.name}: a different model ({cfg.n_layer} layers, n_embd "
                f"{cfg.n_embd}) than the first checkpoint ({config.n_layer}, {config.n_embd})"
            )
            continue
        # own float32 copies: interpolation arithmetic should not touch memory maps
        checkpoints.append(Checkpoint(step, path, {k: np.array(v) for k, v in params.items()}))
    if config is None or not checkpoints:
        detail = f" ({len(warnings)} skipped: {warnings[0]})" if warnings else ""
        raise ReplayError(f"{directory}: no usable step-NNNNNN checkpoint{detail}")
    return Replay(directory, config, checkpoints, warnings, _metrics(directory / "metrics.jsonl"))


def _shape_key(cfg: GPTConfig) -> tuple:
    return (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.block_size, cfg.bias)


def _metrics(path: Path) -> list[dict]:
    rows: list[dict] = []
    if not path.is_file():
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                continue  # a torn last line of an interrupted run, or a hostile one
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append(row)
    return rows
