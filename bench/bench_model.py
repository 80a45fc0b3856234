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


def time_calls(fn: Callable[[], object], n: int, warmup: int) -> list[float]:
    """Seconds per call for n calls after warmup calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
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

        t_np = statistics.median(time_calls(lambda: forward(cfg, params, tokens), n, warm))
        with torch.inference_mode():
            t_sdpa = statistics.median(
                time_calls(lambda: gpt_forward(cfg, tp, tt, "sdpa", with_probs=True), n, warm)
            )
            t_man = statistics.median(
                time_calls(lambda: gpt_forward(cfg, tp, tt, "manual", with_probs=True), n, warm)
            )
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
        "1b. Trace / forward time, median ms per call (torch under inference_mode, "
        "both also compute softmax(logits))",
        [
            "model",
            "runs",
            "numpy ms",
            "torch ms",
            "torch manual-attn ms",
            "numpy/torch",
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

    n, warm = (50, 5) if quick else (300, 20)
    np_tr, t_tr = Trainer(cfg, tcfg), TorchTrainer(cfg, tcfg)
    t_np = time_calls(np_tr.step, n, warm)
    t_t = time_calls(t_tr.step, n, warm)
    ne = 2 if quick else 5
    e_np = time_calls(lambda: sort_accuracy(cfg, np_tr.params), ne, 1)
    e_t = time_calls(lambda: torch_sort_accuracy(cfg, t_tr.params), ne, 1)

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
            ]
        )
    table(
        "2b. nano-sort training throughput (median per call)",
        ["what", "runs", "numpy ms", "torch ms", "numpy /s", "torch /s", "numpy/torch"],
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
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    seeds = args.seeds if args.seeds else ([0] if args.quick else [0, 1, 2])

    table(
        "Environment",
        ["item", "value"],
        [
            ["python", platform.python_version()],
            ["numpy", np.__version__],
            ["torch", torch.__version__],
            ["cpu cores (os.cpu_count)", str(cores)],
            ["numpy OpenBLAS threads", openblas_threads()],
            ["torch intra-op threads", str(torch.get_num_threads())],
            ["torch inter-op threads", str(torch.get_num_interop_threads())],
            ["mode", "quick" if args.quick else "full"],
        ],
    )

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
    if args.profile:
        profile_numpy(args.quick)


if __name__ == "__main__":
    main()
