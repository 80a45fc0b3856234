"""Superposition: many more than N nearly-orthogonal directions fit in N dimensions.

In N dimensions at most N vectors are exactly orthogonal, but random unit vectors are already
*nearly* orthogonal (their cosine is about ±1/sqrt(N)), and the number that fit with every
pairwise angle within 90° ± ε grows exponentially with N. This module starts from M random unit
vectors and nudges them apart by gradient descent on the unit sphere, then reports the angles of
all M(M-1)/2 pairs. Pure numpy (float32), no GL or UI; the M x M cosine matrix is never held
whole: everything walks it in row blocks (at M = 10,000 it would be 400 MB).

The loss is a soft maximum of |cos| over the distinct pairs,

    L = (mean over pairs i<j of |v_i . v_j|^p) ** (1/p),   p = POWER = 16,

which tends to max |cos| as p grows, so its gradient is dominated by the closest pairs; each
step moves along the tangent-projected gradient by `lr` radians (rms over the rows), and the
step length adapts ("bold driver"): a step that raised the loss is undone and the length
halved, an accepted one lengthens it by 10%. Every row is renormalised to the unit sphere.

`SuperpositionRunner` runs the optimiser on a background thread and publishes immutable
`Snapshot`s (stats + histogram) for a UI; `SuperpositionDemo` is the panel's state.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

POWER = 16  # the soft-max exponent of the loss (even)
BLOCK_ENTRIES = 1 << 22  # cosines held at once: 4M float32 = 16 MB per buffer
MIN_LR = 1e-7  # step length (radians) below which the optimiser has converged
MAX_LR = 0.5

N_RANGE = (2, 1000)
M_RANGE = (2, 10_000)
EPS_MAX = 45.0


def validate(n_dims: int, n_vectors: int, epsilon_deg: float) -> None:
    """Raise ValueError (one line) unless 2 <= N <= 1000, 2 <= M <= 10000, 0 < eps <= 45."""
    if isinstance(n_dims, bool) or not isinstance(n_dims, (int, np.integer)):
        raise ValueError(f"n_dims must be an integer, got {n_dims!r}")
    if isinstance(n_vectors, bool) or not isinstance(n_vectors, (int, np.integer)):
        raise ValueError(f"n_vectors must be an integer, got {n_vectors!r}")
    if not N_RANGE[0] <= n_dims <= N_RANGE[1]:
        raise ValueError(f"n_dims must be in {N_RANGE[0]}..{N_RANGE[1]}, got {n_dims}")
    if not M_RANGE[0] <= n_vectors <= M_RANGE[1]:
        raise ValueError(f"n_vectors must be in {M_RANGE[0]}..{M_RANGE[1]}, got {n_vectors}")
    if not (isinstance(epsilon_deg, (int, float, np.number)) and 0 < epsilon_deg <= EPS_MAX):
        raise ValueError(f"epsilon_deg must be in (0, {EPS_MAX:g}] degrees, got {epsilon_deg!r}")


def welch_bound_deg(n_dims: int, n_vectors: int) -> float:
    """The largest possible minimum pairwise angle of M unit vectors in N dimensions is at most
    this (Welch: max |cos| >= sqrt((M - N) / (N (M - 1))) when M > N; 90° when M <= N)."""
    if n_vectors <= n_dims:
        return 90.0
    c = math.sqrt((n_vectors - n_dims) / (n_dims * (n_vectors - 1)))
    return math.degrees(math.acos(c))


def random_unit_vectors(n_vectors: int, n_dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n_vectors, n_dims), dtype=np.float32)  # [M, N]
    return _normalise(v)


def _normalise(v: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", v, v, dtype=np.float32))  # [M]
    v /= np.maximum(norms, np.float32(1e-30))[:, None]
    return v


def _block_size(m: int) -> int:
    """Rows per block, so that a block of rows against all M columns is <= BLOCK_ENTRIES."""
    return max(64, min(m, BLOCK_ENTRIES // m))


def _odd_power(x: np.ndarray, e: int, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """out = x ** e for odd e >= 1 by repeated squaring with preallocated buffers (np.power
    on float32 is ~20x slower)."""
    np.copyto(out, x)
    e -= 1  # out holds x**1; multiply in x**(e-1) = (x**2)**((e-1)/2)
    np.multiply(x, x, out=tmp)
    k = e // 2
    while k:
        if k & 1:
            out *= tmp
        k >>= 1
        if k:
            tmp *= tmp
    return out


@dataclass
class AngleScan:
    """Exact counts over all M(M-1)/2 distinct pairs of one set of vectors."""

    version: int
    counts: np.ndarray  # [bins] int64
    edges: np.ndarray  # [bins + 1] degrees
    min_angle_deg: float
    max_angle_deg: float
    within_eps: int  # pairs with |angle - 90| <= eps
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

    Not thread-safe: use one thread at a time (SuperpositionRunner does)."""

    n_dims: int  # N, 2..1000
    n_vectors: int  # M, 2..10000
    epsilon_deg: float = 5.0  # the band 90° ± ε that stats() counts; the optimiser ignores it
    seed: int = 0  # the random start
    lr: float = 0.05  # initial step length, radians (rms over the rows); adapts each step
    vectors: np.ndarray = field(init=False, repr=False)  # [M, N] float32, unit rows
    step_count: int = field(init=False, default=0)
    loss: float = field(init=False, default=math.nan)  # soft-max |cos| (nan before a step)
    version: int = field(init=False, default=0)  # bumps whenever `vectors` change

    def __post_init__(self) -> None:
        validate(self.n_dims, self.n_vectors, self.epsilon_deg)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        self.n_dims, self.n_vectors = int(self.n_dims), int(self.n_vectors)
        self.epsilon_deg = float(self.epsilon_deg)
        self.vectors = random_unit_vectors(self.n_vectors, self.n_dims, self.seed)
        self._grad: np.ndarray | None = None  # [M, N] the gradient at `vectors`
        self._max_cos = 1.0  # max |cos| over pairs of `vectors` (valid once _grad is set)
        self._scale = np.float32(1.0)  # cosines are divided by this before the power
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

        A step tries a move of `lr` radians (rms over the rows) down the gradient; if the loss
        went up it is rejected (the vectors stay, `lr` halves), otherwise kept (`lr` grows 10%).
        So `vectors` always hold the best set so far. One step = one pass over all pairs."""
        for _ in range(n):
            self._one_step()
        return self.loss

    def _one_step(self) -> None:
        if self._grad is None:  # the first step also evaluates the random start
            self.loss, self._max_cos, self._grad = self._loss_and_grad(self.vectors)
        self.step_count += 1
        if self.converged:
            return
        grad = self._grad
        rms = float(np.sqrt(np.mean(np.einsum("ij,ij->i", grad, grad, dtype=np.float64))))
        if rms == 0.0 or not math.isfinite(rms):  # exactly orthogonal already
            self.lr = 0.0
            return
        trial = _normalise(self.vectors - np.float32(self.lr / rms) * grad)  # [M, N]
        loss, max_cos, trial_grad = self._loss_and_grad(trial)
        # keep a step only if it lowers the soft max without raising the true max, so the
        # minimum angle never goes down (small enough steps along the gradient do both)
        if loss <= self.loss and max_cos <= self._max_cos:
            self.vectors, self._grad, self.loss, self._max_cos = trial, trial_grad, loss, max_cos
            self.lr = min(self.lr * 1.1, MAX_LR)
            self.version += 1
        else:
            self.lr *= 0.5

    def _loss_and_grad(self, v: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Soft-max |cos| and max |cos| over distinct pairs, and the tangent-projected gradient
        direction of mean |cos/s|^p (constant factors dropped: only its direction is used).

        Block by block over the upper triangle: rows [i0, i0+b) against columns [i0, M)."""
        m = self.n_vectors
        b = _block_size(m)
        s = self._scale  # cosines are divided by the last max |cos| so powers stay in range
        grad = np.zeros_like(v)  # [M, N]
        total = 0.0
        biggest = 0.0
        cos_buf = np.empty(b * m, np.float32)
        w_buf = np.empty(b * m, np.float32)
        tmp_buf = np.empty(b * m, np.float32)
        with np.errstate(under="ignore"):  # tiny cosines ** 15 underflow to 0: harmless
            for i0 in range(0, m, b):
                vi = v[i0 : i0 + b]  # [b, N]
                rows, width = vi.shape[0], m - i0
                c = cos_buf[: rows * width].reshape(rows, width)
                np.matmul(vi, v[i0:].T, out=c)  # [b, M - i0] cosines with this and later rows
                diag = np.arange(rows)
                c[diag, diag] = 0.0  # self-pairs
                biggest = max(biggest, float(c.max()), -float(c.min()))
                c /= s
                wb = _odd_power(
                    c,
                    POWER - 1,
                    w_buf[: c.size].reshape(rows, width),
                    tmp_buf[: c.size].reshape(rows, width),
                )
                # the diagonal square holds each of its pairs twice (i, j) and (j, i)
                total += float(np.vdot(wb.ravel(), c.ravel()))
                total -= 0.5 * float(np.vdot(wb[:, :rows].copy(), c[:, :rows].copy()))
                grad[i0 : i0 + rows] += wb @ v[i0:]  # [b, M-i0] @ [M-i0, N]
                if width > rows:  # the pair (i, j > block) also pushes j
                    grad[i0 + rows :] += wb[:, rows:].T @ vi
        grad -= np.einsum("ij,ij->i", grad, v)[:, None] * v  # tangent to the sphere
        mean = max(total, 0.0) / self.pairs_total
        loss = float(s) * mean ** (1.0 / POWER)
        if biggest > 0:
            self._scale = np.float32(biggest)
        return loss, biggest, grad

    # ---- angles -------------------------------------------------------------------------------

    def scan(self, bins: int = 90, range_deg: tuple[float, float] = (0.0, 180.0)) -> AngleScan:
        """Histogram, min/max angle and the ±ε count over all distinct pairs, block by block
        (exact counts; cached until the vectors, the bins or ε change)."""
        key = (
            self.version,
            int(bins),
            (float(range_deg[0]), float(range_deg[1])),
            self.epsilon_deg,
        )
        if self._scan is not None and self._scan_key == key:
            return self._scan
        lo, hi = key[2]
        if not (bins >= 1 and hi > lo):
            raise ValueError(f"need bins >= 1 and a non-empty range, got {bins}, {range_deg}")
        v, m, eps = self.vectors, self.n_vectors, self.epsilon_deg
        bins = int(bins)
        counts = np.zeros(bins, np.int64)
        to_bin = np.float32(bins / (hi - lo))  # degrees -> bin units
        sin_eps = np.float32(math.sin(math.radians(eps)))  # |angle - 90| <= eps <=> |cos| <= this
        cmin, cmax, within = 1.0, -1.0, 0
        b = _block_size(m)
        upper = np.triu(np.ones((b, b), bool), 1)
        cos_buf = np.empty(b * m, np.float32)
        tmp_buf = np.empty(b * m, np.float32)
        idx_buf = np.empty(b * m, np.intp)
        for i0 in range(0, m - 1, b):
            vi = v[i0 : i0 + b]  # [b, N]
            rows = vi.shape[0]
            width = m - i0 - rows
            n_sq = rows * (rows - 1) // 2
            a = cos_buf[: n_sq + rows * width]  # this block's pairs, flat
            # the strict upper triangle of the diagonal square, then the rectangle to its right
            a[:n_sq] = (vi @ vi.T)[upper[:rows, :rows]]
            if width:
                np.matmul(vi, v[i0 + rows :].T, out=a[n_sq:].reshape(rows, width))
            lo_c, hi_c = float(a.min()), float(a.max())
            cmin, cmax = min(cmin, lo_c), max(cmax, hi_c)
            t = tmp_buf[: a.size]
            np.abs(a, out=t)
            within += int(np.count_nonzero(t <= sin_eps))
            np.clip(a, -1.0, 1.0, out=a)
            np.arccos(a, out=a)  # radians
            a *= np.float32(180.0 / math.pi)  # degrees
            a -= np.float32(lo)
            a *= to_bin  # bin units: bin k holds [k, k + 1), the last also holds `bins`
            if (
                math.degrees(math.acos(min(hi_c, 1.0))) < lo
                or math.degrees(math.acos(max(lo_c, -1.0))) > hi
            ):  # some angles fall outside the range: drop them
                a = a[(a >= 0) & (a <= bins)]
            idx = idx_buf[: a.size]
            idx[...] = a  # truncation = floor for a >= 0
            np.minimum(idx, bins - 1, out=idx)
            counts += np.bincount(idx, minlength=bins)
        amin = math.degrees(math.acos(min(max(cmax, -1.0), 1.0)))
        amax = math.degrees(math.acos(min(max(cmin, -1.0), 1.0)))
        edges = np.linspace(lo, hi, bins + 1)
        result = AngleScan(self.version, counts, edges, amin, amax, within, self.pairs_total, eps)
        self._scan, self._scan_key = result, key
        return result

    def angle_histogram(
        self, bins: int = 90, range_deg: tuple[float, float] = (0.0, 180.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """(counts [bins] int64, edges [bins + 1] degrees) of the angles of all distinct pairs;
        np.histogram's bin convention (half-open bins, the last one closed)."""
        s = self.scan(bins, range_deg)
        return s.counts, s.edges

    def stats(self) -> dict:
        """min_angle_deg, max_angle_deg, within_eps (pairs with |angle - 90| <= ε),
        pairs_total and fraction_within, over all distinct pairs."""
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
    converged: bool
    scan: AngleScan
    baseline: AngleScan  # the random start, for comparison
    step_seconds: float  # wall time of one optimisation step (0 before the first)
    scan_seconds: float  # wall time of the last histogram pass

    @property
    def welch_deg(self) -> float:
        return welch_bound_deg(self.n_dims, self.n_vectors)


class SuperpositionRunner:
    """Runs a Superposition on a background thread: start(), pause(), reset(...).

    Only the worker thread computes; the UI thread reads `snapshot` (replaced whole under
    `lock`, never mutated) and never waits for a step or a histogram pass. numpy's matrix
    products and ufuncs release the GIL, so the UI keeps its frame rate while a 10,000-vector
    step runs. Steps are paced to at most `max_steps_per_second` so small cases can be watched;
    the histogram is recomputed at most every `scan_interval` seconds (and never more than half
    the time, however slow a pass is)."""

    def __init__(
        self, sp: Superposition, max_steps_per_second: float = 60.0, scan_interval: float = 0.25
    ):
        self.lock = threading.Lock()
        self.max_steps_per_second = max_steps_per_second
        self.scan_interval = scan_interval
        self._sp = sp
        self._baseline: AngleScan | None = None
        self._running = False
        self._quit = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_seconds = 0.0
        self._scan_seconds = 0.0
        self.snapshot: Snapshot | None = None
        self.error: str | None = None

    # ---- control (any thread; never blocks on computation) ---------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def busy(self) -> bool:
        """The published snapshot is behind the vectors/settings (a pass is on its way)."""
        with self.lock:
            snap, sp = self.snapshot, self._sp
        return snap is None or not self._fresh(snap, sp)

    def start(self) -> None:
        self._ensure_thread()
        self._running = True
        self._wake.set()

    def pause(self) -> None:
        self._running = False

    def reset(self, sp: Superposition) -> None:
        """Replace the vectors (paused). A step in flight on the old ones is discarded."""
        with self.lock:
            self._running = False
            self._sp = sp
            self._baseline = None
            self._step_seconds = 0.0
        self._ensure_thread()
        self._wake.set()

    def set_epsilon(self, epsilon_deg: float) -> None:
        """Change the counted band; the next pass recounts (the optimiser ignores ε)."""
        validate(self._sp.n_dims, self._sp.n_vectors, epsilon_deg)
        with self.lock:
            self._sp.epsilon_deg = float(epsilon_deg)  # a float store: atomic under the GIL
        self._ensure_thread()
        self._wake.set()

    def stop(self) -> None:
        self._quit = True
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wait_fresh(self, timeout: float = 30.0) -> Snapshot | None:
        """Block until the snapshot matches the current vectors and ε (tests, CLI)."""
        self._ensure_thread()
        self._wake.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy:
                return self.snapshot
            time.sleep(0.005)
        return None

    # ---- the worker thread ----------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._quit = False
            self._thread = threading.Thread(
                target=self._loop, name="llmviz-superposition", daemon=True
            )
            self._thread.start()

    @staticmethod
    def _fresh(snap: Snapshot, sp: Superposition) -> bool:
        return (
            snap.scan.version == sp.version
            and snap.scan.epsilon_deg == sp.epsilon_deg
            and (snap.n_dims, snap.n_vectors, snap.seed) == (sp.n_dims, sp.n_vectors, sp.seed)
        )

    def _loop(self) -> None:
        last_scan = 0.0
        while not self._quit:
            with self.lock:
                sp, snap, running = self._sp, self.snapshot, self._running
            try:
                stale = snap is None or not self._fresh(snap, sp)
                since = time.monotonic() - last_scan
                due = since >= max(self.scan_interval, self._scan_seconds)
                if stale and (not running or due or sp.converged):
                    last_scan = time.monotonic()
                    self._publish(sp)
                elif running and not sp.converged:
                    t0 = time.perf_counter()
                    sp.step(1)
                    dt = time.perf_counter() - t0
                    self._step_seconds = dt
                    rest = 1.0 / self.max_steps_per_second - dt
                    if rest > 0:
                        time.sleep(rest)
                else:
                    if running and sp.converged:
                        self._running = False
                    self._wake.wait(0.1)
                    self._wake.clear()
            except Exception as e:  # pragma: no cover - shown in the panel, never crashes the app
                self.error = f"{type(e).__name__}: {e}"
                self._running = False
                self._wake.wait(0.5)
                self._wake.clear()

    def _publish(self, sp: Superposition) -> None:
        t0 = time.perf_counter()
        scan = sp.scan()
        self._scan_seconds = time.perf_counter() - t0
        with self.lock:
            if self._sp is not sp:
                return  # reset while scanning
            if self._baseline is None or self._baseline.epsilon_deg != scan.epsilon_deg:
                self._baseline = scan if sp.step_count == 0 else self._baseline_for(sp)
            baseline = self._baseline
        self_snapshot = Snapshot(
            sp.n_dims,
            sp.n_vectors,
            sp.seed,
            sp.step_count,
            sp.loss,
            sp.converged,
            scan,
            baseline,
            self._step_seconds,
            self._scan_seconds,
        )
        with self.lock:
            if self._sp is sp:
                self.snapshot = self_snapshot

    def _baseline_for(self, sp: Superposition) -> AngleScan:
        """The random start's scan at the current ε (recomputed when ε changes mid-run)."""
        start = Superposition(sp.n_dims, sp.n_vectors, sp.epsilon_deg, sp.seed)
        return start.scan()


# ---- the panel's state -------------------------------------------------------------------


@dataclass
class SuperpositionDemo:
    """State of the 'Superposition' panel: the settings the sliders edit and the runner."""

    n_dims: int = 100
    n_vectors: int = 2000
    epsilon_deg: float = 10.0
    seed: int = 0
    visible: bool = True
    log_scale: bool = False
    runner: SuperpositionRunner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.runner = SuperpositionRunner(self._make())

    def _make(self) -> Superposition:
        return Superposition(self.n_dims, self.n_vectors, self.epsilon_deg, self.seed)

    def apply(self, n_dims: int, n_vectors: int, seed: int) -> None:
        """New settings -> fresh random vectors (paused). Raises ValueError on bad values."""
        validate(n_dims, n_vectors, self.epsilon_deg)
        self.n_dims, self.n_vectors, self.seed = int(n_dims), int(n_vectors), int(seed)
        self.runner.reset(self._make())

    def reset(self) -> None:
        self.runner.reset(self._make())

    def set_epsilon(self, epsilon_deg: float) -> None:
        self.runner.set_epsilon(epsilon_deg)
        self.epsilon_deg = float(epsilon_deg)

    def close(self) -> None:
        """Stop the worker thread (call when the app exits)."""
        self.runner.stop()
