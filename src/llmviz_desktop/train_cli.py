"""`llmviz train`: the training loop around model.train.Trainer, with checkpoints, metrics and a
progress bar. Checkpoints are written atomically, so Ctrl-C never leaves a half-written one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .model.config import preset
from .model.train import TrainConfig, Trainer, sort_accuracy
from .model.weights import save_checkpoint

METRICS_FILE = "metrics.jsonl"


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def run_training(args: argparse.Namespace, fail) -> int:
    from tqdm import tqdm

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise fail(f"--out {out}: directory is not empty; choose a new one")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise fail(f"--out {out}: cannot create directory ({e.strerror})") from None

    cfg = preset("nano-sort")
    trainer = Trainer(cfg, TrainConfig(batch_size=args.batch_size, lr=args.lr, seed=args.seed))
    written: list[Path] = []
    bar = tqdm(total=args.steps, desc="training nano-sort", unit="step", dynamic_ncols=True)
    try:
        with open(out / METRICS_FILE, "w", encoding="utf-8") as metrics:
            for step in range(1, args.steps + 1):
                r = trainer.step()
                row = {"step": r.step, "loss": r.loss, "accuracy": r.accuracy, "lr": r.lr}
                if step % args.checkpoint_every == 0 or step == args.steps:
                    row["sorted"] = sort_accuracy(cfg, trainer.params)
                    written.append(
                        save_checkpoint(out / checkpoint_name(step), cfg, trainer.params)
                    )
                    bar.set_postfix(loss=f"{r.loss:.4f}", sorted=f"{row['sorted']}/729")
                metrics.write(json.dumps(row) + "\n")  # one write per line
                metrics.flush()
                bar.update()
    except OSError as e:  # a full disk while writing a checkpoint: earlier ones stay intact
        bar.close()
        raise fail(f"--out {out}: cannot write a checkpoint ({e.strerror or e})") from None
    except KeyboardInterrupt:
        bar.close()
        last = written[-1].name if written else "none"
        print(f"interrupted: {len(written)} checkpoints kept in {out} (last: {last})")
        return 130
    bar.close()
    final = row.get("sorted", 0)
    print(f"done: {args.steps} steps, loss {r.loss:.5f}, sorts {final}/729 -> {written[-1]}")
    return 0
