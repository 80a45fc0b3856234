"""Training nano-sort: AdamW (decay on matrices only), global-norm gradient clipping, and the
all-729 evaluation. Deterministic from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backward import backward, check_trainable
from .config import GPTConfig
from .generate import generate
from .gpt import cross_entropy, forward
from .params import Params, init_params, param_specs
from .tasks import all_inputs, sequences_for, sort_batch
from .threads import single_blas_thread, tune_allocator


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
    """One optimiser state over one set of parameters; step() advances by one batch.

    Parameters, gradients and Adam moments each live in one flat float32 buffer; the dicts
    (params, m, v, last_grads, last_update) hold views into them, keyed like the parameters.
    AdamW then costs ~10 vector operations per step instead of ~10 per tensor.
    """

    def __init__(self, cfg: GPTConfig, tcfg: TrainConfig, params: Params | None = None):
        check_trainable(cfg)  # before any buffer is allocated
        tune_allocator()
        self.cfg, self.tcfg = cfg, tcfg
        start = params if params is not None else init_params(cfg, tcfg.seed)
        names = [s.name for s in param_specs(cfg)]
        shapes = {n: np.shape(start[n]) for n in names}
        sizes = [int(np.prod(shapes[n])) for n in names]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        self._slices = {n: slice(int(offsets[i]), int(offsets[i + 1])) for i, n in enumerate(names)}
        total = int(offsets[-1])

        def views(flat: np.ndarray) -> Params:
            return {n: flat[self._slices[n]].reshape(shapes[n]) for n in names}

        self._p, self._g, self._m, self._v, self._u = (
            np.zeros(total, np.float32) for _ in range(5)
        )
        # own writable float32 copies: loaded checkpoints are read-only memory maps
        self.params = views(self._p)
        for n in names:
            self.params[n][...] = start[n]
        self.m, self.v = views(self._m), views(self._v)
        self.last_grads, self.last_update = views(self._g), views(self._u)
        self.decay = {s.name for s in param_specs(cfg) if s.decays}
        self._decay_mask = np.zeros(total, np.float32)
        for n in self.decay:
            self._decay_mask[self._slices[n]] = 1.0
        self.rng = np.random.default_rng(tcfg.seed + 1)
        self.step_count = 0

    def step(self, lr: float | None = None) -> StepResult:
        with single_blas_thread():
            return self._step(lr)

    @np.errstate(under="ignore")  # tiny late-training gradients squared underflow to 0: fine
    def _step(self, lr: float | None) -> StepResult:
        t = self.tcfg
        lr = t.lr if lr is None else lr
        x, y = sort_batch(self.rng, t.batch_size)
        trace = forward(self.cfg, self.params, x)
        loss, dlogits = cross_entropy(trace.logits, y)
        grads = backward(trace, self.params, dlogits)
        g = self._g
        for name, sl in self._slices.items():
            g[sl] = grads[name].reshape(-1)
        norm = float(np.sqrt(np.dot(g, g)))
        clip = min(1.0, t.grad_clip / (norm + 1e-6))
        self.step_count += 1
        b1, b2 = t.betas
        c1, c2 = 1 - b1**self.step_count, 1 - b2**self.step_count
        m, v, u, p = self._m, self._v, self._u, self._p
        g *= clip  # last_grads holds the clipped gradient that was applied
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        np.sqrt(v / c2, out=u)
        u += t.eps
        np.divide(m / c1, u, out=u)
        u *= -lr
        u -= (lr * t.weight_decay) * self._decay_mask * p  # decoupled decay, matrices only
        p += u
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


def logits_finite(cfg: GPTConfig, params: Params) -> bool:
    """Whether the parameters are all finite and give finite logits on all 729 inputs: a
    checkpoint worth keeping. A run whose loss became NaN or inf has diverged; its parameters
    from then on are not."""
    if not all(np.isfinite(p).all() for p in params.values()):
        return False
    x, _ = sequences_for(all_inputs())
    with single_blas_thread(), np.errstate(all="ignore"):  # overflow is the answer, not an error
        return bool(np.isfinite(forward(cfg, params, x).logits).all())


def greedy_sort_accuracy(cfg: GPTConfig, params: Params) -> int:
    """The same count by actually decoding greedily, token by token (slower)."""
    inp = all_inputs()
    with single_blas_thread():
        out = generate(cfg, params, inp, inp.shape[1]).tokens
    return int((out == np.sort(inp, axis=1)).all(axis=1).sum())
