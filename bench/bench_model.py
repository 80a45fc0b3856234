"""Benchmark the numpy GPT against a plain PyTorch CPU reference of the same computation.

    PYTHONPATH=src python bench/bench_model.py [--quick] [--profile]

1. Trace (forward) time, median after warm-up: nano-sort (B=1, T=11) and a gpt2-shaped model
   (124M parameters, random init, B=1, T=64), numpy `forward` vs a torch forward with the same
   weights under torch.inference_mode(); logits are checked to agree first.
2. Training steps per second: numpy `Trainer` vs a torch trainer with the same recipe, initial
   weights and data stream; plus the time of one full 729-input greedy evaluation each.
3. Wall time from scratch to 729/729 sorted, evaluating every 25 steps (evaluation counts).

torch is a benchmark-only dependency (pip install torch); nothing in src/ imports it.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import io
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # torch_reference
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # llmviz_desktop

import torch  # noqa: E402
from torch_reference import (  # noqa: E402
    TorchTrainer,
    gpt_forward,
    to_torch,
    torch_sort_accuracy,
)

from llmviz_desktop.model.config import GPTConfig, preset  # noqa: E402
from llmviz_desktop.model.gpt import forward  # noqa: E402
from llmviz_desktop.model.params import init_params  # noqa: E402
from llmviz_desktop.model.tasks import sort_batch  # noqa: E402
from llmviz_desktop.model.train import TrainConfig, Trainer, sort_accuracy  # noqa: E402

TARGET_TRAIN = 1.5  # numpy wall-to-729 no slower than 1.5x torch
TARGET_TRACE = 1.5  # numpy gpt2-shaped trace no slower than 1.5x torch
EVAL_EVERY = 25


# ---- small helpers -------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print a plain-text table: first column left-aligned, the rest right-aligned."""
    cols = list(zip(*([header] + rows), strict=True))
    widths = [max(len(c) for c in col) for col in cols]

    def fmt(row: list[str]) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    line = "-" * len(fmt(header))
    print(f"\n{title}\n{line}\n{fmt(header)}\n{line}")
    for row in rows:
        print(fmt(row))
    print(line)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "MISS"


def time_interleaved(
    fns: list[Callable[[], object]], n: int, warmup: int, rounds: int
) -> list[list[float]]:
    """Seconds per call of each fn, n calls each, run in `rounds` alternating blocks so that
    a change in background load hits every contender alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        per_block = n // rounds + (1 if r < n % rounds else 0)
        for fn, times in zip(fns, out, strict=True):
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    return out


def openblas_threads() -> str:
    """Threads numpy's OpenBLAS uses (read from the loaded library; '?' if not found)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return "?"
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            fn = getattr(lib, name, None)
            if fn is not None:
                return str(fn())
    return "?"


def blas_threads_inside_trainer() -> tuple[str, str]:
    """OpenBLAS threads seen inside Trainer.step's forward and inside sort_accuracy's
    decoding (src may limit them); found by briefly wrapping the functions train.py calls."""
    import llmviz_desktop.model.train as train_mod

    seen: dict[str, str] = {}

    def spy(name: str, fn: Callable) -> Callable:
        def wrapped(*args, **kwargs):
            seen.setdefault(name, openblas_threads())
            return fn(*args, **kwargs)

        return wrapped

    saved = {k: getattr(train_mod, k) for k in ("forward", "generate")}
    try:
        for k, fn in saved.items():
            setattr(train_mod, k, spy(k, fn))
        cfg = preset("nano-sort")
        tr = Trainer(cfg, TrainConfig(seed=0))
        tr.step()
        sort_accuracy(cfg, tr.params)
    finally:
        for k, fn in saved.items():
            setattr(train_mod, k, fn)
    return seen.get("forward", "?"), seen.get("generate", "?")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


# ---- 1. trace ------------------------------------------------------------------------------


def bench_trace(quick: bool) -> float:
    cases: list[tuple[str, GPTConfig, np.ndarray, int]] = []
    nano = preset("nano-sort")
    x, _ = sort_batch(np.random.default_rng(0), 1)  # [1, 11]
    cases.append(("nano-sort B=1 T=11", nano, x, 50 if quick else 300))
    gpt2 = preset("gpt2")
    toks = np.random.default_rng(0).integers(0, gpt2.vocab_size, size=(1, 64))
    cases.append(("gpt2-shaped 124M B=1 T=64", gpt2, toks, 5 if quick else 20))

    check_rows, time_rows = [], []
    gpt2_ratio = float("nan")
    for label, cfg, tokens, n in cases:
        params = init_params(cfg, seed=0)
        tp = to_torch(params)
        tt = torch.from_numpy(tokens)
        warm = 2 if quick else 5

        # correctness first: the same weights must give the same logits
        ref = forward(cfg, params, tokens).logits
        with torch.inference_mode():
            for attn in ("sdpa", "manual"):
                got = gpt_forward(cfg, tp, tt, attn).numpy()
                diff = float(np.abs(got - ref).max())
                check_rows.append([label, attn, f"{diff:.2e}", f"{float(np.abs(ref).max()):.3f}"])

        def run_np() -> object:
            return forward(cfg, params, tokens)

        def run_sdpa() -> object:
            with torch.inference_mode():
                return gpt_forward(cfg, tp, tt, "sdpa", with_probs=True)

        def run_manual() -> object:
            with torch.inference_mode():
                return gpt_forward(cfg, tp, tt, "manual", with_probs=True)

        times = time_interleaved([run_np, run_sdpa, run_manual], n, warm, rounds=min(n, 10))
        t_np, t_sdpa, t_man = (statistics.median(t) for t in times)
        m_np, m_sdpa, _ = (min(t) for t in times)
        ratio = t_np / t_sdpa
        is_gpt2 = cfg.name == "gpt2"
        if is_gpt2:
            gpt2_ratio = ratio
        time_rows.append(
            [
                label,
                str(n),
                ms(t_np),
                ms(t_sdpa),
                ms(t_man),
                f"{m_np / m_sdpa:.2f}x",
                f"{ratio:.2f}x",
                f"<= {TARGET_TRACE}x" if is_gpt2 else "-",
                verdict(ratio, TARGET_TRACE) if is_gpt2 else "-",
            ]
        )
        del params, tp

    table(
        "1a. Logit check (numpy forward vs torch forward, same weights)",
        ["model", "torch attention", "max |logit diff|", "max |logit|"],
        check_rows,
    )
    table(
        "1b. Trace / forward time, median ms per call, calls interleaved (torch under "
        "inference_mode; both compute softmax(logits) too, as the Trace holds it)",
        [
            "model",
            "runs",
            "numpy ms",
            "torch ms",
            "torch manual-attn ms",
            "numpy/torch",
            "(min/min)",
            "target",
            "status",
        ],
        time_rows,
    )
    return gpt2_ratio


# ---- 2. training steps per second ----------------------------------------------------------


def bench_steps(quick: bool) -> None:
    cfg = preset("nano-sort")
    tcfg = TrainConfig(seed=0, batch_size=64, lr=5e-4)

    # equivalence: same init and data stream, so losses should track each other closely
    a, b = Trainer(cfg, tcfg), TorchTrainer(cfg, tcfg)
    losses = [(a.step().loss, b.step()) for _ in range(10)]
    pdiff = max(float(np.abs(a.params[k] - v).max()) for k, v in b.numpy_params().items())
    table(
        "2a. Same recipe check (seed 0, identical initial weights and batches)",
        ["step", "numpy loss", "torch loss", "|diff|"],
        [
            [str(i + 1), f"{ln:.6f}", f"{lt:.6f}", f"{abs(ln - lt):.1e}"]
            for i, (ln, lt) in enumerate(losses)
            if i in (0, 4, 9)
        ]
        + [["max |param diff| after 10 steps", "", "", f"{pdiff:.1e}"]],
    )

    n, warm = (60, 5) if quick else (300, 20)
    np_tr, t_tr = Trainer(cfg, tcfg), TorchTrainer(cfg, tcfg)
    t_np, t_t = time_interleaved([np_tr.step, t_tr.step], n, warm, rounds=10)
    ne = 3 if quick else 6
    e_np, e_t = time_interleaved(
        [lambda: sort_accuracy(cfg, np_tr.params), lambda: torch_sort_accuracy(cfg, t_tr.params)],
        ne,
        1,
        rounds=ne,
    )

    rows = []
    for label, tn, tt in (("train step (B=64)", t_np, t_t), ("eval 729 greedy", e_np, e_t)):
        mn, mt = statistics.median(tn), statistics.median(tt)
        rows.append(
            [
                label,
                str(len(tn)),
                ms(mn),
                ms(mt),
                f"{1 / mn:.1f}",
                f"{1 / mt:.1f}",
                f"{mn / mt:.2f}x",
                f"{min(tn) / min(tt):.2f}x",
            ]
        )
    table(
        "2b. nano-sort training throughput (median per call, calls interleaved)",
        [
            "what",
            "runs",
            "numpy ms",
            "torch ms",
            "numpy /s",
            "torch /s",
            "numpy/torch",
            "(min/min)",
        ],
        rows,
    )


# ---- 3. wall time to 729/729 ---------------------------------------------------------------


def run_to_solved(kind: str, seed: int, max_steps: int) -> tuple[int, int, float, float]:
    """(steps, final accuracy, wall seconds, of which evaluation seconds)."""
    cfg = preset("nano-sort")
    tcfg = TrainConfig(seed=seed, batch_size=64, lr=5e-4)
    t0 = time.perf_counter()
    eval_s = 0.0
    if kind == "numpy":
        tr = Trainer(cfg, tcfg)

        def evaluate() -> int:
            return sort_accuracy(cfg, tr.params)

    else:
        tr = TorchTrainer(cfg, tcfg)

        def evaluate() -> int:
            return torch_sort_accuracy(cfg, tr.params)

    acc, step = 0, 0
    while step < max_steps:
        tr.step()
        step += 1
        if step % EVAL_EVERY == 0:
            te = time.perf_counter()
            acc = evaluate()
            eval_s += time.perf_counter() - te
            if acc == 729:
                break
    return step, acc, time.perf_counter() - t0, eval_s


def bench_to_solved(seeds: list[int], max_steps: int) -> float:
    rows = []
    tot = {"numpy": 0.0, "torch": 0.0}
    all_solved = True
    for seed in seeds:
        res = {k: run_to_solved(k, seed, max_steps) for k in ("numpy", "torch")}
        for k, (_, acc, wall, _) in res.items():
            tot[k] += wall
            all_solved &= acc == 729
        (sn, an, wn, en), (st, at, wt, et) = res["numpy"], res["torch"]
        rows.append(
            [
                str(seed),
                f"{sn}",
                f"{an}",
                f"{wn:.2f}",
                f"{en:.2f}",
                f"{st}",
                f"{at}",
                f"{wt:.2f}",
                f"{et:.2f}",
                f"{wn / wt:.2f}x",
            ]
        )
    ratio = tot["numpy"] / tot["torch"]
    rows.append(
        [
            "all",
            "",
            "",
            f"{tot['numpy']:.2f}",
            "",
            "",
            "",
            f"{tot['torch']:.2f}",
            "",
            f"{ratio:.2f}x",
        ]
    )
    table(
        f"3. Wall time from scratch to 729/729 (eval every {EVAL_EVERY} steps, "
        f"cap {max_steps} steps; eval time included)",
        [
            "seed",
            "np steps",
            "np acc",
            "np s",
            "np eval s",
            "torch steps",
            "torch acc",
            "torch s",
            "torch eval s",
            "numpy/torch",
        ],
        rows,
    )
    if not all_solved:
        print("NOTE: at least one run hit the step cap before 729/729; its ratio is not a")
        print("      time-to-solve ratio.")
        return float("nan")
    return ratio


# ---- profile (optional) --------------------------------------------------------------------


def profile_numpy(quick: bool) -> None:
    cfg = preset("nano-sort")
    tr = Trainer(cfg, TrainConfig(seed=0))
    for _ in range(5):
        tr.step()
    for label, fn in (
        ("numpy Trainer.step x100", lambda: [tr.step() for _ in range(100)]),
        ("numpy sort_accuracy x3", lambda: [sort_accuracy(cfg, tr.params) for _ in range(3)]),
    ):
        pr = cProfile.Profile()
        pr.enable()
        fn()
        pr.disable()
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12)
        print(f"\nProfile: {label} (sorted by own time)")
        print("\n".join(s.getvalue().splitlines()[4:]))


# ---- main ----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, one seed")
    ap.add_argument("--seeds", type=int, nargs="*", help="seeds for part 3 (default 0 1 2)")
    ap.add_argument("--max-steps", type=int, default=2000, help="step cap for part 3")
    ap.add_argument("--profile", action="store_true", help="also cProfile the numpy trainer")
    ap.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads (default: cores)"
    )
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    torch.set_num_threads(args.torch_threads or cores)
    in_step, in_eval = blas_threads_inside_trainer()
    load0 = os.getloadavg()
    seeds = args.seeds if args.seeds else ([0] if args.quick else [0, 1, 2])

    table(
        "Environment",
        ["item", "value"],
        [
            ["python", platform.python_version()],
            ["numpy", np.__version__],
            ["torch", torch.__version__],
            ["cpu cores (os.cpu_count)", str(cores)],
            ["numpy OpenBLAS threads (default)", openblas_threads()],
            ["  ... inside Trainer.step", in_step],
            ["  ... inside sort_accuracy", in_eval],
            ["torch intra-op threads", str(torch.get_num_threads())],
            ["torch inter-op threads", str(torch.get_num_interop_threads())],
            ["load average 1/5/15 min at start", " ".join(f"{x:.2f}" for x in load0)],
            ["mode", "quick" if args.quick else "full"],
        ],
    )
    if load0[0] > 0.5:
        print(f"WARNING: the machine is already busy (1-min load {load0[0]:.2f} on {cores} cores);")
        print("         timings are noisy. Calls are interleaved so both sides see the same load.")

    trace_ratio = bench_trace(args.quick)
    bench_steps(args.quick)
    train_ratio = bench_to_solved(seeds, args.max_steps)

    table(
        "Summary against the targets",
        ["target", "numpy/torch", "limit", "status"],
        [
            [
                "gpt2-shaped trace (B=1, T=64)",
                f"{trace_ratio:.2f}x",
                f"<= {TARGET_TRACE}x",
                verdict(trace_ratio, TARGET_TRACE),
            ],
            [
                "wall time to 729/729 (sum over seeds)",
                f"{train_ratio:.2f}x",
                f"<= {TARGET_TRAIN}x",
                verdict(train_ratio, TARGET_TRAIN),
            ],
        ],
    )
    load1 = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load1)}")
    if args.profile:
        profile_numpy(args.quick)


if __name__ == "__main__":
    main()
