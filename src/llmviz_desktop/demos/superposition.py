"""Superposition: many more than N nearly-orthogonal directions fit in N dimensions.

In N dimensions at most N vectors are exactly orthogonal, but random unit vectors are already
*nearly* orthogonal (their cosine is about ±1/sqrt(N)), and the number that fit with every
pairwise angle within 90° ± ε grows exponentially with N. This module starts from M random unit
vectors, pushes them apart by gradient descent on the unit sphere, and reports the angles of all
M(M-1)/2 pairs. Pure numpy, no GL or UI: the optimiser works in float32, the angle counts use
float64 cosines so that no pair lands in the wrong bin. The M x M cosine matrix is never held
whole (at M = 10,000 it would be 400 MB): every pass walks its upper triangle in row blocks.

The optimiser minimises a soft maximum of |cos| over the distinct pairs,

    loss = (mean over pairs i<j of |v_i . v_j| ** p) ** (1/p),     p = POWER = 16,

which tends to max |cos| as p grows, so the gradient is dominated by the closest pairs. A step
moves each row along its tangent-projected gradient, by lr * |g_i| / rms(|g|) radians but never
more than lr, then renormalises the row. The step length adapts (a "bold driver"): a step is
kept only if the loss went down and max |cos| stayed within MAX_COS_SLACK of its best (so the
minimum angle shown never drops noticeably); a kept step lengthens lr by 10%, a rejected one
halves it. One step is one pass over all pairs.

`SuperpositionRunner` runs the optimiser on a background thread and publishes immutable
`Snapshot`s (stats + histogram) for a UI; `SuperpositionDemo` is the panel's state.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..model.worker import BackgroundWorker

POWER = 16  # soft-max exponent of the loss (even)
MAX_COS_SLACK = 0.003  # a kept step may leave max |cos| this far above its best (~0.2°)
MIN_LR = 1e-7  # step length (radians) below which the optimiser has converged
MAX_LR = 0.5
BLOCK_ENTRIES = 1 << 22  # cosines held at once: 4M float32 = 16 MB per buffer

N_RANGE = (2, 1000)
M_RANGE = (2, 10_000)
EPS_MAX = 45.0


def validate(n_dims: object, n_vectors: object, epsilon_deg: object) -> None:
    """Raise ValueError (one line) unless 2 <= N <= 1000, 2 <= M <= 10000 and 0 < ε <= 45."""
    for name, value, (lo, hi) in (("n_dims", n_dims, N_RANGE), ("n_vectors", n_vectors, M_RANGE)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    if (
        isinstance(epsilon_deg, bool)
        or not isinstance(epsilon_deg, (int, float, np.integer, np.floating))
        or not 0 < epsilon_deg <= EPS_MAX
    ):
        raise ValueError(f"epsilon_deg must be in (0, {EPS_MAX:g}] degrees, got {epsilon_deg!r}")


def welch_bound_deg(n_dims: int, n_vectors: int) -> float:
    """No M unit vectors in N dimensions have a minimum pairwise angle above this (Welch:
    max |cos| >= sqrt((M - N) / (N (M - 1))) for M > N; 90° for M <= N)."""
    if n_vectors <= n_dims:
        return 90.0
    return math.degrees(math.acos(math.sqrt((n_vectors - n_dims) / (n_dims * (n_vectors - 1)))))


def random_unit_vectors(n_vectors: int, n_dims: int, seed: int) -> np.ndarray:
    """[M, N] float32 rows drawn uniformly on the unit sphere."""
    rng = np.random.default_rng(seed)
    return _normalise(rng.standard_normal((n_vectors, n_dims), dtype=np.float32))


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))  # [M]
    v /= np.maximum(norms, np.float32(1e-30))[:, None]
    return v


def _block_size(m: int) -> int:
    """Rows per block, so that a block of rows against all M columns is <= BLOCK_ENTRIES."""
    return max(64, min(m, BLOCK_ENTRIES // m))


def _odd_power(x: np.ndarray, e: int, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """out = x ** e for odd e by repeated squaring in preallocated buffers (np.power on float32
    is ~20x slower)."""
    np.copyto(out, x)
    np.multiply(x, x, out=tmp)  # x ** 2
    k = (e - 1) // 2  # out *= (x ** 2) ** k
    while k:
        if k & 1:
            out *= tmp
        k >>= 1
        if k:
            tmp *= tmp
    return out


@dataclass(frozen=True)
class AngleScan:
    """Exact counts over all M(M-1)/2 distinct pairs of one set of vectors."""

    version: int  # Superposition.version it describes
    counts: np.ndarray  # [bins] int64, summing to pairs_total when the range covers 0..180
    edges: np.ndarray  # [bins + 1] degrees
    min_angle_deg: float
    max_angle_deg: float
    within_eps: int  # pairs with |angle - 90°| <= ε
    pairs_total: int
    epsilon_deg: float

    @property
    def fraction_within(self) -> float:
        return self.within_eps / self.pairs_total

    def stats(self) -> dict:
        return {
            "min_angle_deg": self.min_angle_deg,
            "max_angle_deg": self.max_angle_deg,
            "within_eps": self.within_eps,
            "pairs_total": self.pairs_total,
            "fraction_within": self.fraction_within,
        }


@dataclass
class Superposition:
    """M unit vectors in N dimensions, optimised toward near-orthogonality.

    Not thread-safe: one thread at a time (SuperpositionRunner keeps it on its worker)."""

    n_dims: int  # N, 2..1000
    n_vectors: int  # M, 2..10000
    epsilon_deg: float = 5.0  # the band 90° ± ε that stats() counts; the optimiser ignores it
    seed: int = 0  # the random start
    lr: float = 0.05  # step length in radians (the furthest any row moves); adapts each step
    vectors: np.ndarray = field(init=False, repr=False)  # [M, N] float32, unit rows
    step_count: int = field(init=False, default=0)
    loss: float = field(init=False, default=math.nan)  # soft-max |cos| (nan before a step)
    version: int = field(init=False, default=0)  # bumps whenever `vectors` change

    def __post_init__(self) -> None:
        validate(self.n_dims, self.n_vectors, self.epsilon_deg)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        self.n_dims, self.n_vectors = int(self.n_dims), int(self.n_vectors)
        self.epsilon_deg = float(self.epsilon_deg)
        self.vectors = random_unit_vectors(self.n_vectors, self.n_dims, self.seed)
        self._grad: np.ndarray | None = None  # [M, N] gradient at `vectors` (after a step)
        self._max_cos = 1.0  # max |cos| of `vectors` (valid once _grad is set)
        self._best_max = 1.0  # the lowest max |cos| of any kept step
        self._scan: AngleScan | None = None
        self._scan_key: tuple | None = None

    @property
    def pairs_total(self) -> int:
        return self.n_vectors * (self.n_vectors - 1) // 2

    @property
    def converged(self) -> bool:
        """The step length fell below MIN_LR: no step lowers the loss any more."""
        return self.lr < MIN_LR

    def set_epsilon(self, epsilon_deg: float) -> None:
        validate(self.n_dims, self.n_vectors, epsilon_deg)
        self.epsilon_deg = float(epsilon_deg)

    # ---- optimisation -----------------------------------------------------------------------

    def step(self, n: int = 1) -> float:
        """n optimisation steps; returns the loss (soft-max |cos|) of the current vectors.

        `vectors` always hold the best set so far: a step that made things worse is undone."""
        with np.errstate(under="ignore"):  # tiny cosines ** 15 underflow to 0: harmless
            for _ in range(n):
                self._one_step()
        return self.loss

    def _one_step(self) -> None:
        if self._grad is None:  # the first step also evaluates the random start
            self.loss, self._max_cos, self._grad = self._loss_and_grad(self.vectors)
            self._best_max = self._max_cos
        self.step_count += 1
        if self.converged:
            return
        grad = self._grad
        norms = np.sqrt(np.einsum("ij,ij->i", grad, grad))  # [M]
        rms = float(np.sqrt(np.mean(np.square(norms, dtype=np.float64))))
        if rms == 0.0 or not math.isfinite(rms):  # exactly orthogonal already
            self.lr = 0.0
            return
        # row i moves lr * |g_i| / rms radians, but none further than lr (no overshoot)
        scale = np.float32(self.lr) / np.maximum(norms, np.float32(rms))  # [M]
        trial = _normalise(self.vectors - scale[:, None] * grad)  # [M, N]
        loss, max_cos, trial_grad = self._loss_and_grad(trial)
        if loss <= self.loss and max_cos <= self._best_max + MAX_COS_SLACK:
            self.vectors, self._grad, self.loss, self._max_cos = trial, trial_grad, loss, max_cos
            self._best_max = min(self._best_max, max_cos)
            self.lr = min(self.lr * 1.1, MAX_LR)
            self.version += 1
        else:
            self.lr *= 0.5

    def _loss_and_grad(self, v: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(soft-max |cos|, max |cos|, gradient direction [M, N]) over the distinct pairs of v.

        The gradient is that of mean |cos/s| ** p projected onto the sphere's tangent planes,
        constant factors dropped (only its direction is used). Row blocks [i0, i0+b) against
        columns [i0, M): the upper triangle, each pair once (the diagonal square twice)."""
        with np.errstate(under="ignore"):  # tiny cosines ** 15 underflow to 0: harmless
            return self._blocks(v)

    def _blocks(self, v: np.ndarray) -> tuple[float, float, np.ndarray]:
        m = self.n_vectors
        b = _block_size(m)
        # (cos / s) ** 15 with s = the largest |cos| so far, so nothing overflows float32; when
        # a block raises s, what has been summed so far is rescaled (a streaming log-sum-exp)
        s = 0.0
        grad = np.zeros_like(v)  # [M, N]
        total = 0.0  # sum over pairs of (cos / s) ** p
        cos_buf = np.empty(b * m, np.float32)
        w_buf = np.empty(b * m, np.float32)
        tmp_buf = np.empty(b * m, np.float32)
        for i0 in range(0, m, b):
            vi = v[i0 : i0 + b]  # [b, N]
            rows, width = vi.shape[0], m - i0
            c = cos_buf[: rows * width].reshape(rows, width)
            np.matmul(vi, v[i0:].T, out=c)  # [b, M - i0]: this block's rows against later ones
            diag = np.arange(rows)
            c[diag, diag] = 0.0  # self-pairs
            block_max = max(float(c.max()), -float(c.min()))
            if block_max == 0.0:
                continue  # all perpendicular: nothing to add
            if block_max > s:
                if s > 0.0:
                    k = s / block_max
                    grad *= np.float32(k ** (POWER - 1))
                    total *= k**POWER
                s = block_max
            c *= np.float32(1.0 / s)
            w = _odd_power(
                c,
                POWER - 1,
                w_buf[: c.size].reshape(rows, width),
                tmp_buf[: c.size].reshape(rows, width),
            )  # d/dc of c ** p / p
            total += float(np.vdot(w.ravel(), c.ravel()))
            total -= 0.5 * float(np.vdot(w[:, :rows].copy(), c[:, :rows].copy()))  # square: once
            grad[i0 : i0 + rows] += w @ v[i0:]  # [b, M - i0] @ [M - i0, N]
            if width > rows:  # the pair (i, j beyond the block) pushes j too
                grad[i0 + rows :] += w[:, rows:].T @ vi
        grad -= np.einsum("ij,ij->i", grad, v)[:, None] * v  # tangent to the sphere
        loss = s * (max(total, 0.0) / self.pairs_total) ** (1.0 / POWER)
        return loss, s, grad

    # ---- angles -------------------------------------------------------------------------------

    def scan(self, bins: int = 90, range_deg: tuple[float, float] = (0.0, 180.0)) -> AngleScan:
        """Histogram, min/max angle and the ±ε count over all distinct pairs, block by block
        (exact counts, nothing sampled). Cached until the vectors, bins, range or ε change.

        Bins follow np.histogram: [e_k, e_k+1) with the last one closed; angles outside the
        range are left out of `counts` (but still count for min/max and within_eps)."""
        lo, hi = float(range_deg[0]), float(range_deg[1])
        eps = self.epsilon_deg  # read once: a UI thread may set it meanwhile
        key = (self.version, int(bins), lo, hi, eps)
        if self._scan is not None and self._scan_key == key:
            return self._scan
        if not (int(bins) >= 1 and hi > lo):
            raise ValueError(f"need bins >= 1 and a non-empty range, got {bins}, {range_deg}")
        with np.errstate(under="ignore"):
            result = self._scan_pairs(int(bins), lo, hi, eps)
        self._scan, self._scan_key = result, key
        return result

    def _scan_pairs(self, bins: int, lo: float, hi: float, eps: float) -> AngleScan:
        # float64 cosines of the float32 vectors: float32 ones can be off by ~1e-6, enough to
        # move a pair across a bin edge (and ~0.1° near 0° or 180°, where arccos is steep)
        v = self.vectors.astype(np.float64)  # [M, N]
        m = self.n_vectors
        counts = np.zeros(bins + 1, np.int64)  # bin `bins`: out of range, or counted exactly
        to_bin = bins / (hi - lo)  # degrees -> bin units, as np.histogram computes it
        amin, amax, within = 180.0, 0.0, 0
        b = max(32, _block_size(m) // 2)
        upper = np.triu(np.ones((b, b), bool), 1)
        ang_buf = np.empty(b * m, np.float64)
        f_buf = np.empty(b * m, np.float64)
        idx_buf = np.empty(b * m, np.intp)
        for i0 in range(0, m - 1, b):
            vi = v[i0 : i0 + b]  # [b, N]
            rows, width = vi.shape[0], m - i0 - vi.shape[0]
            n_sq = rows * (rows - 1) // 2
            a = ang_buf[: n_sq + rows * width]  # this block's pairs, flat
            # the strict upper triangle of the diagonal square, then the rectangle to its right
            a[:n_sq] = (vi @ vi.T)[upper[:rows, :rows]]
            if width:
                np.matmul(vi, v[i0 + rows :].T, out=a[n_sq:].reshape(rows, width))
            np.clip(a, -1.0, 1.0, out=a)
            np.arccos(a, out=a)
            a *= 180.0 / math.pi  # degrees, as np.degrees
            amin, amax = min(amin, float(a.min())), max(amax, float(a.max()))
            f = f_buf[: a.size]
            np.subtract(a, 90.0, out=f)
            np.abs(f, out=f)
            within += int(np.count_nonzero(f <= eps))
            # bins: floor((angle - lo) * bins / (hi - lo)); values within 1e-9 of an edge are
            # rebinned by np.histogram itself, so its edge rules hold exactly
            np.subtract(a, lo, out=f)
            f *= to_bin
            idx = idx_buf[: a.size]
            outside = None
            if float(f.min()) < 0.0 or float(f.max()) > bins:
                outside = (f < 0.0) | (f > bins)
                np.clip(f, 0.0, bins, out=f)
            idx[...] = f  # truncation = floor for f >= 0
            np.subtract(f, idx, out=f)  # the fraction within the bin, [0, 1)
            f -= 0.5
            np.abs(f, out=f)
            near = np.flatnonzero(f > 0.5 - 1e-9)
            idx[near] = bins
            if outside is not None:
                idx[outside] = bins
            counts += np.bincount(idx, minlength=bins + 1)
            if near.size:
                counts[:bins] += np.histogram(a[near], bins=bins, range=(lo, hi))[0]
        edges = np.linspace(lo, hi, bins + 1)
        return AngleScan(
            self.version, counts[:bins], edges, amin, amax, within, self.pairs_total, eps
        )

    def angle_histogram(
        self, bins: int = 90, range_deg: tuple[float, float] = (0.0, 180.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """(counts [bins] int64, edges [bins + 1] degrees) of the angles of all distinct pairs."""
        s = self.scan(bins, range_deg)
        return s.counts, s.edges

    def stats(self) -> dict:
        """min_angle_deg, max_angle_deg, within_eps (pairs with |angle - 90°| <= ε),
        pairs_total and fraction_within, over all distinct pairs (reuses a cached scan)."""
        if self._scan is not None and self._scan_key is not None:
            _, bins, lo, hi, _ = self._scan_key
            return self.scan(bins, (lo, hi)).stats()
        return self.scan().stats()


# ---- background optimisation ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the UI draws: one consistent, immutable view of the optimiser."""

    n_dims: int
    n_vectors: int
    seed: int
    step: int
    loss: float
    lr: float
    converged: bool
    scan: AngleScan
    baseline: AngleScan  # the random start at the same ε, for comparison
    step_seconds: float  # wall time of the last optimisation step (0 before the first)

    @property
    def welch_deg(self) -> float:
        return welch_bound_deg(self.n_dims, self.n_vectors)


class SuperpositionRunner:
    """Optimises a Superposition on a background thread: start(), pause(), reset(sp).

    Only the worker thread computes. The UI reads `snapshot` (replaced whole under `lock`, never
    mutated) and never waits for a step or a histogram pass; numpy's matrix products and ufuncs
    release the GIL, so the UI keeps drawing while a 10,000-vector step runs. Steps are paced to
    at most `max_steps_per_second` so that small cases can be watched; the histogram is
    recomputed at most every `scan_interval` seconds, and never more often than a pass takes."""

    def __init__(
        self,
        sp: Superposition,
        bins: int = 360,
        max_steps_per_second: float = 60.0,
        scan_interval: float = 0.25,
    ):
        self.lock = threading.Lock()
        self.bins = bins
        self.max_steps_per_second = max_steps_per_second
        self.scan_interval = scan_interval
        self.snapshot: Snapshot | None = None
        self.error: str | None = None  # the last exception in the worker, one line
        self._sp = sp
        self._baseline: AngleScan | None = None
        self._last_scan = -math.inf
        self.worker = BackgroundWorker("llmviz-superposition", self._tick, self._failed)
        self._step_seconds = 0.0
        self._scan_seconds = 0.0
        self._published = 0  # snapshots published so far
        self.worker.ensure_thread()  # publishes the first snapshot while paused

    # ---- control (UI thread; never blocks on computation) ---------------------------------

    @property
    def running(self) -> bool:
        return self.worker.running

    @property
    def superposition(self) -> Superposition:
        """The current vectors; read-only from other threads (the worker mutates them)."""
        return self._sp

    @property
    def busy(self) -> bool:
        """The snapshot is behind the vectors or ε (a pass is on its way)."""
        with self.lock:
            snap, sp = self.snapshot, self._sp
        return snap is None or not _fresh(snap, sp)

    def start(self) -> None:
        self.error = None
        self.worker.start()

    def pause(self) -> None:
        self.worker.pause()

    def reset(self, sp: Superposition) -> None:
        """Replace the vectors (paused). A step in flight on the old ones is discarded."""
        with self.lock:
            self.worker.pause()
            self._sp = sp
            self._baseline = None
            self._step_seconds = 0.0
        self.worker.ensure_thread()
        self.worker.wake()

    def set_epsilon(self, epsilon_deg: float) -> None:
        """Change the counted band; the next pass recounts (the optimiser ignores ε).
        Raises ValueError outside (0, 45]."""
        sp = self._sp
        validate(sp.n_dims, sp.n_vectors, epsilon_deg)
        sp.epsilon_deg = float(epsilon_deg)  # one attribute store: atomic under the GIL
        self.worker.wake()

    def stop(self) -> None:
        """End the worker thread (app exit)."""
        self.worker.stop(timeout=10)

    def wait_fresh(self, timeout: float = 30.0) -> Snapshot | None:
        """Block until a snapshot describes the current vectors and ε (paused), or until one
        is published after this call at the current ε (running). For tests and scripts."""
        self.worker.ensure_thread()
        self.worker.wake()
        start = self._published
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snap, sp, count = self.snapshot, self._sp, self._published
            if snap is not None:
                if _fresh(snap, sp):
                    return snap
                if self.running and count > start and snap.scan.epsilon_deg == sp.epsilon_deg:
                    return snap
            time.sleep(0.002)
        return None

    # ---- the worker thread ----------------------------------------------------------------

    def _tick(self, running: bool) -> float | None:
        """One turn of the worker: a histogram pass when the snapshot is stale (and one is due,
        or the optimiser is idle), else one optimisation step while running."""
        with self.lock:  # read with the vectors: a reset() since the call pauses this tick too
            sp, snap, running = self._sp, self.snapshot, running and self.worker.running
        stale = snap is None or not _fresh(snap, sp)
        due = time.monotonic() - self._last_scan >= max(self.scan_interval, self._scan_seconds)
        if stale and (due or not running or sp.converged):
            self._last_scan = time.monotonic()
            self._publish(sp)
            return 0.0
        if running and not sp.converged:
            t0 = time.perf_counter()
            sp.step(1)
            self._step_seconds = time.perf_counter() - t0
            return max(1.0 / self.max_steps_per_second - self._step_seconds, 0.0)
        if running and sp.converged:
            self.worker.pause()
        return None

    def _failed(self, e: Exception) -> None:
        self.error = f"{type(e).__name__}: {e}"  # shown in the panel; the app keeps going

    def _publish(self, sp: Superposition) -> None:
        t0 = time.perf_counter()
        scan = sp.scan(self.bins)
        self._scan_seconds = time.perf_counter() - t0
        baseline = self._baseline
        if baseline is None or baseline.epsilon_deg != scan.epsilon_deg:
            if sp.step_count == 0:
                baseline = scan
            else:  # ε changed mid-run: recount the random start at the new ε
                start = Superposition(sp.n_dims, sp.n_vectors, scan.epsilon_deg, sp.seed)
                baseline = start.scan(self.bins)
        snap = Snapshot(
            sp.n_dims,
            sp.n_vectors,
            sp.seed,
            sp.step_count,
            sp.loss,
            sp.lr,
            sp.converged,
            scan,
            baseline,
            self._step_seconds,
        )
        with self.lock:
            if self._sp is sp:  # not reset meanwhile
                self._baseline = baseline
                self.snapshot = snap
                self._published += 1


def _fresh(snap: Snapshot, sp: Superposition) -> bool:
    return (
        snap.scan.version == sp.version
        and snap.step == sp.step_count
        and snap.scan.epsilon_deg == sp.epsilon_deg
        and (snap.n_dims, snap.n_vectors, snap.seed) == (sp.n_dims, sp.n_vectors, sp.seed)
    )


# ---- the panel's state -------------------------------------------------------------------


@dataclass
class SuperpositionDemo:
    """State of the 'Superposition' panel: the applied settings, the runner, view options."""

    n_dims: int = 100
    n_vectors: int = 2000
    epsilon_deg: float = 10.0
    seed: int = 0
    visible: bool = True
    log_scale: bool = False
    message: str = ""  # the last rejected input, one line
    runner: SuperpositionRunner = field(init=False, repr=False)
    # what the sliders show while being dragged; applied (new vectors) on release
    edit_n_dims: int = field(init=False)
    edit_n_vectors: int = field(init=False)
    edit_seed: int = field(init=False)

    def __post_init__(self) -> None:
        self.runner = SuperpositionRunner(self._make())
        self.edit_n_dims, self.edit_n_vectors, self.edit_seed = self._settings()

    def _make(self) -> Superposition:
        return Superposition(self.n_dims, self.n_vectors, self.epsilon_deg, self.seed)

    def apply(self, n_dims: int, n_vectors: int, seed: int) -> None:
        """New N, M or seed: fresh random vectors (paused). Raises ValueError on bad values."""
        validate(n_dims, n_vectors, self.epsilon_deg)
        self.n_dims, self.n_vectors, self.seed = int(n_dims), int(n_vectors), int(seed)
        self.reset()

    def reset(self) -> None:
        """Fresh random vectors with the current settings (paused); the sliders show them."""
        self.edit_n_dims, self.edit_n_vectors, self.edit_seed = self._settings()
        self.runner.reset(self._make())

    def _settings(self) -> tuple[int, int, int]:
        return self.n_dims, self.n_vectors, self.seed

    def set_epsilon(self, epsilon_deg: float) -> None:
        self.runner.set_epsilon(epsilon_deg)
        self.epsilon_deg = float(epsilon_deg)

    @property
    def animating(self) -> bool:
        """The panel is shown and its picture changes on its own (optimising, or a histogram
        pass on its way): the window keeps its full frame rate."""
        return self.visible and (self.runner.running or self.runner.busy)

    def close(self) -> None:
        """Stop the worker thread (call on app exit)."""
        self.runner.stop()
