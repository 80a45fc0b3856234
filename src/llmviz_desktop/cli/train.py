"""`llmviz train`: the training loop around model.train.Trainer, with checkpoints, metrics and a
progress bar. Checkpoints are written atomically, so Ctrl-C never leaves a half-written one.

Every option is checked before --out is touched; a run that ends without a checkpoint (refused,
diverged at once, a full disk, Ctrl-C early) leaves --out as it was, so the same command can be
run again. A run whose loss becomes NaN or inf stops at that step and keeps the checkpoints
already written (each was checked to give finite logits before it was written)."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
from pathlib import Path

import numpy as np

from ..model.atomic import remove
from ..model.config import GPTConfig, preset
from ..model.train import TrainConfig, Trainer, logits_finite, sort_accuracy
from ..model.weights import save_checkpoint

METRICS_FILE = "metrics.jsonl"
EXIT_DIVERGED = 1
# a training step holds the forward trace (activations and the backward's cache) plus the
# gradients and temporaries of the backward pass: measured at 1.35-1.4 x the trace's bytes
BACKWARD_FACTOR = 1.5


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def _read_number(path: str, key: str | None = None) -> int | None:
    """An integer from a /proc or /sys file: the whole file, or the `key:` line (in kB)."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return None
    if key is None:
        return int(text) if text.strip().isdigit() else None
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if name == key and fields and fields[0].isdigit():
            return int(fields[0]) * 1024
    return None


def available_memory() -> tuple[int, str] | None:
    """(bytes this process may still allocate, where that figure comes from): the least of
    the system's available memory, the cgroup's limit and `ulimit -v`; None when unknown."""
    found: list[tuple[int, str]] = []
    avail = _read_number("/proc/meminfo", "MemAvailable")
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            avail = None
    if avail is not None:
        found.append((avail, "available memory"))
    limit = _read_number("/sys/fs/cgroup/memory.max")
    used = _read_number("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        found.append((max(limit - used, 0), "the cgroup's memory limit"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        vm = _read_number("/proc/self/status", "VmSize") or 0
        found.append((max(soft - vm, 0), "ulimit -v"))
    return min(found) if found else None


def sequence_bytes(cfg: GPTConfig) -> int:
    """Memory one sequence of a batch needs during a training step: its trace (every
    activation and the backward's cache) measured on one sequence, times BACKWARD_FACTOR."""
    from ..model.gpt import forward
    from ..model.params import init_params
    from ..model.tasks import all_inputs, sequences_for

    x, _ = sequences_for(all_inputs()[:1])
    trace = forward(cfg, init_params(cfg, 0), x)
    arrays = {id(t.value): t.value.nbytes for t in trace}
    arrays.update({id(v): v.nbytes for v in trace.cache.values()})
    return int(sum(arrays.values()) * BACKWARD_FACTOR)


def max_batch_size(cfg: GPTConfig) -> tuple[int, str]:
    """The largest --batch-size the memory holds, and the reason in words."""
    per = sequence_bytes(cfg)
    memory = available_memory()
    if memory is None:
        return 1_000_000, "the available memory is unknown here"
    free, source = memory
    limit = max(free // per, 1)
    return limit, (
        f"each sequence needs about {per / 1024:,.0f} KiB for activations and gradients, and "
        f"{source} is {free / 2**30:.1f} GiB"
    )


def _missing_dirs(out: Path) -> list[Path]:
    """The folders mkdir(parents=True) would create for out, outermost first."""
    missing = []
    for p in [out, *out.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing[::-1]


def run_training(args: argparse.Namespace, fail) -> int:
    from tqdm import tqdm

    cfg = preset("nano-sort")
    limit, why = max_batch_size(cfg)
    if args.batch_size > limit:
        raise fail(f"--batch-size {args.batch_size:,}: expected 1 to {limit:,} ({why})")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise fail(f"--out {out}: directory is not empty; choose a new one")
    created = _missing_dirs(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_run(out, created)
        raise fail(f"--out {out}: cannot create directory ({e.strerror})") from None

    trainer = Trainer(cfg, TrainConfig(batch_size=args.batch_size, lr=args.lr, seed=args.seed))
    written: list[Path] = []
    bar = tqdm(total=args.steps, desc="training nano-sort", unit="step", dynamic_ncols=True)
    diverged: str | None = None
    row: dict = {}
    try:
        # a diverging run overflows before its loss turns NaN: that is detected, not printed
        with (
            open(out / METRICS_FILE, "w", encoding="utf-8") as metrics,
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        ):
            for step in range(1, args.steps + 1):
                r = trainer.step()
                if not (math.isfinite(r.loss) and math.isfinite(r.grad_norm)):
                    what = r.loss if not math.isfinite(r.loss) else r.grad_norm
                    name = "loss" if not math.isfinite(r.loss) else "gradient norm"
                    diverged = f"the {name} became {what} at step {step}"
                    break
                row = {"step": r.step, "loss": r.loss, "accuracy": r.accuracy, "lr": r.lr}
                if step % args.checkpoint_every == 0 or step == args.steps:
                    if not logits_finite(cfg, trainer.params):
                        diverged = f"the weights give non-finite logits after step {step}"
                        break
                    row["sorted"] = sort_accuracy(cfg, trainer.params)
                    written.append(
                        save_checkpoint(out / checkpoint_name(step), cfg, trainer.params)
                    )
                    bar.set_postfix(loss=f"{r.loss:.4f}", sorted=f"{row['sorted']}/729")
                metrics.write(json.dumps(row, allow_nan=False) + "\n")  # one write per line
                metrics.flush()
                bar.update()
    except OSError as e:  # a full disk while writing a checkpoint: earlier ones stay intact
        bar.close()
        if not written:
            _remove_run(out, created)
        raise fail(f"--out {out}: cannot write a checkpoint ({e.strerror or e})") from None
    except KeyboardInterrupt:
        bar.close()
        if not written:
            _remove_run(out, created)
        last = written[-1].name if written else "none"
        print(f"interrupted: {len(written)} checkpoints kept in {out} (last: {last})")
        return 130
    bar.close()
    if diverged is not None:
        if written:
            kept = f"kept {len(written)} checkpoints in {out} (last good: {written[-1].name})"
        else:
            _remove_run(out, created)
            kept = f"no checkpoint was written, {out} is left as it was"
        print(
            f"llmviz train: stopped: {diverged} (--lr {args.lr:g} is too large?); {kept}",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    final = row.get("sorted", 0)
    print(f"done: {args.steps} steps, loss {r.loss:.5f}, sorts {final}/729 -> {written[-1]}")
    return 0


def _remove_run(out: Path, created: list[Path]) -> None:
    """Leave --out as it was before a run that kept no checkpoint: its metrics and checkpoint
    temporaries go, then the folders it created (only if empty: nothing else is removed)."""
    for p in list(out.iterdir()) if out.is_dir() else []:
        if p.name == METRICS_FILE or p.name.startswith(".step-"):
            remove(p)
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break
