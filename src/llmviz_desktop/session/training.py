"""Live training in the background: a thread steps the Trainer while the UI keeps drawing.

The UI reads consistent snapshots under a lock (weights, gradients, last update, curves); it
never waits for a step longer than one step takes."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

import numpy as np

from ..model.config import GPTConfig
from ..model.params import Params
from ..model.train import TrainConfig, Trainer, sort_accuracy
from ..model.worker import BackgroundWorker

EVAL_EVERY = 100  # steps between the all-729 evaluations


@dataclass
class Snapshot:
    step: int
    params: Params
    grads: Params
    update: Params


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    sorted_steps: list[int] = field(default_factory=list)
    sorted: list[int] = field(default_factory=list)  # inputs of 729 sorted, every EVAL_EVERY


class LiveTraining:
    def __init__(self, cfg: GPTConfig, seed: int = 0, lr: float = 5e-4, batch_size: int = 64):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.worker = BackgroundWorker("llmviz-train", self._tick, self._failed)
        self.error = ""  # why the last training step failed (training then pauses)
        self.lr, self.batch_size, self.seed = lr, batch_size, seed
        self.reset(seed)

    # ---- control (UI thread) --------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Fresh random weights (paused)."""
        self.worker.pause()
        with self.lock:
            self.seed = self.seed if seed is None else seed
            tcfg = TrainConfig(batch_size=self.batch_size, lr=self.lr, seed=self.seed)
            self.trainer = Trainer(self.cfg, tcfg)
            self.history = History()
            self.version = 0  # bumps whenever the weights change

    def start(self) -> None:
        self.error = ""
        self.worker.start()

    def pause(self) -> None:
        self.worker.pause()

    @property
    def running(self) -> bool:
        return self.worker.running

    def set_lr(self, lr: float) -> None:
        self.lr = float(lr)

    def set_batch_size(self, batch_size: int) -> None:
        with self.lock:
            self.batch_size = int(batch_size)
            self.trainer.tcfg = dataclasses.replace(self.trainer.tcfg, batch_size=self.batch_size)

    def stop(self) -> None:
        self.worker.stop(timeout=5)

    def step_now(self, n: int = 1) -> None:
        """Run n steps on the calling thread (tests, and the paused 'step' button)."""
        for _ in range(n):
            self._one_step()

    def snapshot(self) -> Snapshot:
        with self.lock:
            t = self.trainer
            copy = {k: np.array(v) for k, v in t.params.items()}
            grads = {k: np.array(v) for k, v in t.last_grads.items()}
            update = {k: np.array(v) for k, v in t.last_update.items()}
            return Snapshot(t.step_count, copy, grads, update)

    # ---- the training thread --------------------------------------------------------------

    def _one_step(self, only_if_running: bool = False) -> None:
        with self.lock:
            if only_if_running and not self.worker.running:
                return  # paused (or reset) while this thread waited for the lock
            r = self.trainer.step(lr=self.lr)
            h = self.history
            h.steps.append(r.step)
            h.loss.append(r.loss)
            h.accuracy.append(r.accuracy)
            if r.step % EVAL_EVERY == 0:
                h.sorted_steps.append(r.step)
                h.sorted.append(sort_accuracy(self.cfg, self.trainer.params))
            self.version += 1

    def _tick(self, running: bool) -> float | None:
        if not running:
            return None
        self._one_step(only_if_running=True)
        return 0.0  # the next step at once, after the UI thread had its turn

    def _failed(self, e: Exception) -> None:
        self.error = f"training stopped: {type(e).__name__}: {e}"
