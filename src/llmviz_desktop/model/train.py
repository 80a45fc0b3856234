"""Training nano-sort: AdamW (decay on matrices only), global-norm gradient clipping, and the
all-729 evaluation. Deterministic from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backward import backward
from .config import GPTConfig
from .generate import generate
from .gpt import cross_entropy, forward
from .params import Params, init_params, param_specs
from .tasks import all_inputs, sequences_for, sort_batch
from .threads import single_blas_thread


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1  # applied to linear-layer matrices only
    grad_clip: float = 1.0  # max global gradient norm
    seed: int = 0


@dataclass
class StepResult:
    step: int
    loss: float
    accuracy: float  # teacher-forced token accuracy on the batch's solution positions
    lr: float
    grad_norm: float


class Trainer:
    """One optimiser state over one set of parameters; step() advances by one batch."""

    def __init__(self, cfg: GPTConfig, tcfg: TrainConfig, params: Params | None = None):
        self.cfg, self.tcfg = cfg, tcfg
        # own writable float32 copies: loaded checkpoints are read-only memory maps
        start = params if params is not None else init_params(cfg, tcfg.seed)
        self.params = {k: np.array(v, dtype=np.float32) for k, v in start.items()}
        self.rng = np.random.default_rng(tcfg.seed + 1)
        self.m = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.decay = {s.name for s in param_specs(cfg) if s.decays}
        self.step_count = 0
        self.last_grads: Params = {}
        self.last_update: Params = {}

    def step(self, lr: float | None = None) -> StepResult:
        with single_blas_thread():
            return self._step(lr)

    def _step(self, lr: float | None) -> StepResult:
        t = self.tcfg
        lr = t.lr if lr is None else lr
        x, y = sort_batch(self.rng, t.batch_size)
        trace = forward(self.cfg, self.params, x)
        loss, dlogits = cross_entropy(trace.logits, y)
        grads = backward(trace, self.params, dlogits)
        norm = float(np.sqrt(sum(float((g * g).sum()) for g in grads.values())))
        clip = min(1.0, t.grad_clip / (norm + 1e-6))
        self.step_count += 1
        b1, b2 = t.betas
        c1, c2 = 1 - b1**self.step_count, 1 - b2**self.step_count
        for name, p in self.params.items():
            g = grads[name] * clip
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            update = -lr * (m / c1) / (np.sqrt(v / c2) + t.eps)
            if name in self.decay:
                update -= lr * t.weight_decay * p
            p += update
            self.last_update[name] = update
        self.last_grads = grads
        counted = y >= 0
        acc = float((trace.logits.argmax(-1) == y)[counted].mean())
        return StepResult(self.step_count, loss, acc, lr, norm)


def sort_accuracy(cfg: GPTConfig, params: Params) -> int:
    """How many of the 729 possible inputs greedy decoding sorts correctly.

    One teacher-forced forward pass over input + solution gives exactly the greedy count:
    greedy decoding reproduces the solution iff, at every solution position, the argmax given
    the correct prefix is the correct next token (then each step's prefix is correct too).
    That is 1 forward instead of 6; tests check it against real greedy decoding."""
    x, y = sequences_for(all_inputs())
    with single_blas_thread():
        pred = forward(cfg, params, x).logits.argmax(-1)
    counted = y >= 0
    return int(((pred == y) | ~counted).all(axis=1).sum())


def greedy_sort_accuracy(cfg: GPTConfig, params: Params) -> int:
    """The same count by actually decoding greedily, token by token (slower)."""
    inp = all_inputs()
    with single_blas_thread():
        out = generate(cfg, params, inp, inp.shape[1]).tokens
    return int((out == np.sort(inp, axis=1)).all(axis=1).sum())
