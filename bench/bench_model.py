"""Benchmark the numpy GPT against a plain PyTorch CPU reference of the same computation.

    PYTHONPATH=src python bench/bench_model.py [--quick] [--profile]

1. Trace (forward) time, median after warm-up: nano-sort (B=1, T=11) and a gpt2-shaped model
   (124M parameters, random init, B=1, T=64), numpy `forward` vs a torch forward with the same
   weights under torch.inference_mode(); logits are checked to agree first.
2. Training steps per second: numpy `Trainer` vs a torch trainer with the same recipe, initial
   weights and data stream; plus the time of one full 729-input greedy evaluation each.
3. Wall time from fresh weights to 729/729 sorted, evaluating every 25 steps (evaluation
   counts; one-time library warm-up such as torch's lazy imports does not).

Parts 2 and 3 (and --profile) run in fresh worker processes (this script with --worker), one
per training run in part 3, so neither side inherits the other's threads or the allocator
state left by the 124M-parameter model of part 1; a numpy run never imports torch.

torch is a benchmark-only dependency (pip install torch); nothing in src/ imports it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))  # torch_reference (imported lazily: it imports torch)
sys.path.insert(0, str(HERE.parents[1] / "src"))  # llmviz_desktop

from llmviz_desktop.model.config import GPTConfig, preset  # noqa: E402
from llmviz_desktop.model.gpt import forward  # noqa: E402
from llmviz_desktop.model.params import init_params  # noqa: E402
from llmviz_desktop.model.tasks import sort_batch  # noqa: E402
from llmviz_desktop.model.train import TrainConfig, Trainer, sort_accuracy  # noqa: E402

TARGET_TRAIN = 1.5  # numpy wall-to-729 no slower than 1.5x torch
TARGET_TRACE = 1.5  # numpy gpt2-shaped trace no slower than 1.5x torch
EVAL_EVERY = 25


# ---- small helpers -------------------------------------------------------------------------


def table(
    title: str, header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)
) -> None:
    """Print a plain-text table: the `left` columns left-aligned, the rest right-aligned."""
    cols = list(zip(*([header] + rows), strict=True))
    widths = [max(len(c) for c in col) for col in cols]

    def fmt(row: list[str]) -> str:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    line = "-" * len(fmt(header))
    print(f"\n{title}\n{line}\n{fmt(header)}\n{line}")
    for row in rows:
        print(fmt(row))
    print(line)


def verdict(ratio: float, target: float) -> str:
    if ratio != ratio:  # nan: nothing to compare
        return "n/a"
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


def trace_case(
    label: str, cfg: GPTConfig, tokens: np.ndarray, n: int, warm: int
) -> tuple[list[list[str]], list[str], float]:
    """Logit check rows, one timing row and the median numpy/torch ratio for one model."""
    import torch
    from torch_reference import gpt_forward, to_torch

    params = init_params(cfg, seed=0)
    tp = to_torch(params)
    tt = torch.from_numpy(tokens)

    # correctness first: the same weights must give the same logits
    ref = forward(cfg, params, tokens).logits
    check_rows = []
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
    row = [
        label,
        str(n),
        ms(t_np),
        ms(t_sdpa),
        ms(t_man),
        f"{ratio:.2f}x",
        f"{m_np / m_sdpa:.2f}x",
        f"<= {TARGET_TRACE}x" if is_gpt2 else "-",
        verdict(ratio, TARGET_TRACE) if is_gpt2 else "-",
    ]
    return check_rows, row, ratio


def bench_trace(quick: bool) -> float:
    warm = 2 if quick else 5
    nano = preset("nano-sort")
    x, _ = sort_batch(np.random.default_rng(0), 1)  # [1, 11]
    checks, row_nano, _ = trace_case("nano-sort B=1 T=11", nano, x, 60 if quick else 300, warm)
    gpt2 = preset("gpt2")
    toks = np.random.default_rng(0).integers(0, gpt2.vocab_size, size=(1, 64))
    checks2, row_gpt2, gpt2_ratio = trace_case(
        "gpt2-shaped 124M B=1 T=64", gpt2, toks, 6 if quick else 20, warm
    )
    check_rows, time_rows = checks + checks2, [row_nano, row_gpt2]

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
    from torch_reference import TorchTrainer, torch_sort_accuracy

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
    for label, tn, tt in (
        ("train step (B=64)", t_np, t_t),
        ("eval 729 (exact greedy count)", e_np, e_t),
    ):
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
        "2b. nano-sort training throughput (fresh process, median per call, calls interleaved)",
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
    """(steps, final accuracy, wall seconds, of which evaluation seconds); the clock starts
    before the trainer is built (initial weights included) and stops at 729/729 or the cap.

    One-time library costs are paid before the clock, alike for both kinds: a throwaway
    trainer takes one step and one evaluation first (for torch this mostly is the ~1 s lazy
    import of torch._dynamo when the first AdamW is built)."""
    cfg = preset("nano-sort")

    def make(tcfg: TrainConfig):
        if kind == "numpy":
            tr = Trainer(cfg, tcfg)
            return tr, lambda: sort_accuracy(cfg, tr.params)
        from torch_reference import TorchTrainer, torch_sort_accuracy

        tr = TorchTrainer(cfg, tcfg)
        return tr, lambda: torch_sort_accuracy(cfg, tr.params)

    warm, warm_eval = make(TrainConfig(seed=seed + 1000))
    warm.step()
    warm_eval()
    del warm, warm_eval

    t0 = time.perf_counter()
    tr, evaluate = make(TrainConfig(seed=seed, batch_size=64, lr=5e-4))
    eval_s = 0.0
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


def worker_cmd(*args: str) -> list[str]:
    return [sys.executable, str(HERE), "--worker", *args]


def solve_in_worker(
    kind: str, seed: int, max_steps: int, threads: int
) -> tuple[int, int, float, float]:
    out = subprocess.run(
        worker_cmd("solve", kind, str(seed), str(max_steps), "--torch-threads", str(threads)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))  # type: ignore[return-value]


def bench_to_solved(
    seeds: list[int], max_steps: int, threads: int, repeats: int
) -> tuple[float, float]:
    """Returns (wall ratio summed over all runs, wall-per-step ratio); nan if a run hit the
    cap. Each seed runs `repeats` times, numpy and torch alternately (row "seed.repeat")."""
    rows = []
    tot = {k: [0.0, 0] for k in ("numpy", "torch")}  # seconds, steps
    all_solved = True
    for seed in seeds:
        for rep in range(repeats):
            res = {k: solve_in_worker(k, seed, max_steps, threads) for k in ("numpy", "torch")}
            for k, (steps, acc, wall, _) in res.items():
                tot[k][0] += wall
                tot[k][1] += steps
                all_solved &= acc == 729
            (sn, an, wn, en), (st, at, wt, et) = res["numpy"], res["torch"]
            rows.append(
                [
                    f"{seed}" if repeats == 1 else f"{seed}.{rep + 1}",
                    f"{sn}",
                    f"{an}",
                    f"{wn:.2f}",
                    f"{en:.2f}",
                    f"{st}",
                    f"{at}",
                    f"{wt:.2f}",
                    f"{et:.2f}",
                    f"{wn / wt:.2f}x",
                    f"{(wn / sn) / (wt / st):.2f}x",
                ]
            )
    (wn, sn), (wt, st) = tot["numpy"], tot["torch"]
    ratio, per_step = wn / wt, (wn / sn) / (wt / st)
    rows.append(
        ["sum", f"{sn}", "", f"{wn:.2f}", "", f"{st}", "", f"{wt:.2f}", "", f"{ratio:.2f}x"]
        + [f"{per_step:.2f}x"]
    )
    table(
        f"3. Wall time from fresh weights to 729/729 (fresh process per run, library warm-up "
        f"excluded; eval every {EVAL_EVERY} steps, cap {max_steps} steps; eval time included)",
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
            "per step",
        ],
        rows,
    )
    print("'per step' divides each wall time by its steps: the implementations' speed without")
    print("the luck of how many steps a run needs (the two trajectories agree to ~1e-5 for the")
    print("first ~50 steps, then float rounding makes them drift apart; torch's CPU kernels")
    print("are also not bit-reproducible run to run, so its step counts vary between runs).")
    if not all_solved:
        print("NOTE: at least one run hit the step cap before 729/729; its ratio is not a")
        print("      time-to-solve ratio.")
        return float("nan"), per_step
    return ratio, per_step


# ---- profile (optional) --------------------------------------------------------------------


def line_times(fn: Callable[[], object], files: set[str]) -> tuple[float, dict]:
    """Run fn under a line tracer; seconds spent on each (file, line) of the given files,
    nested calls included (so a caller's line also holds its callees' time)."""
    acc: dict[tuple[str, int], float] = {}
    last: dict[int, tuple[int, float]] = {}

    def local(frame, event, arg):
        now = time.perf_counter()
        key = id(frame)
        if key in last:
            line, t0 = last[key]
            k = (frame.f_code.co_filename, line)
            acc[k] = acc.get(k, 0.0) + now - t0
        if event == "return":
            last.pop(key, None)
        else:
            last[key] = (frame.f_lineno, time.perf_counter())
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename in files else None

    t0 = time.perf_counter()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return time.perf_counter() - t0, acc


def profile_numpy(quick: bool) -> None:
    """Where the numpy trainer's time goes: per-line times inside src/…/model and the
    process's page faults and user/system CPU time."""
    import linecache
    import resource

    import llmviz_desktop.model.backward as m_backward
    import llmviz_desktop.model.generate as m_generate
    import llmviz_desktop.model.gpt as m_gpt
    import llmviz_desktop.model.train as m_train

    files = {m.__file__ for m in (m_backward, m_gpt, m_train, m_generate)}
    cfg = preset("nano-sort")
    tr = Trainer(cfg, TrainConfig(seed=0))
    for _ in range(5):
        tr.step()
    n_steps, n_eval = (30, 1) if quick else (100, 3)
    jobs = (
        (f"Trainer.step x{n_steps}", n_steps, lambda: [tr.step() for _ in range(n_steps)]),
        (
            f"sort_accuracy x{n_eval}",
            n_eval,
            lambda: [sort_accuracy(cfg, tr.params) for _ in range(n_eval)],
        ),
    )
    ru_rows = []
    for label, count, fn in jobs:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        ru_rows.append(
            [
                label.split(" ")[0],
                ms(wall / count),
                ms((r1.ru_utime - r0.ru_utime) / count),
                ms((r1.ru_stime - r0.ru_stime) / count),
                f"{(r1.ru_minflt - r0.ru_minflt) / count:.0f}",
            ]
        )
    table(
        "Profile: numpy cost per call (untraced run)",
        ["call", "wall ms", "user ms", "system ms", "minor page faults"],
        ru_rows,
    )
    for label, count, fn in jobs:
        total, acc = line_times(fn, files)
        rows = []
        for (f, line), sec in sorted(acc.items(), key=lambda kv: -kv[1])[:16]:
            src = linecache.getline(f, line).strip()
            rows.append(
                [
                    f"{Path(f).name}:{line}",
                    f"{100 * sec / total:.1f}%",
                    ms(sec / count),
                    src[:88],
                ]
            )
        table(
            f"Profile: {label}, per-line time (a line includes its callees; tracing adds overhead)",
            ["line", "share", "ms/call", "source"],
            rows,
            left=(0, 3),
        )


# ---- main ----------------------------------------------------------------------------------


def worker(argv: list[str]) -> None:
    """Entry point of a worker process: steps | profile | solve KIND SEED MAX_STEPS."""
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=("steps", "profile", "solve"))
    ap.add_argument("rest", nargs="*")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=1)
    args = ap.parse_args(argv)
    kind = args.rest[0] if args.task == "solve" else "both"
    if kind != "numpy":  # a numpy-only run never loads torch
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.task == "steps":
        bench_steps(args.quick)
    elif args.task == "profile":
        profile_numpy(args.quick)
    else:
        seed, max_steps = int(args.rest[1]), int(args.rest[2])
        print(json.dumps(run_to_solved(kind, seed, max_steps)))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs, one seed")
    ap.add_argument("--seeds", type=int, nargs="*", help="seeds for part 3 (default 0 1 2)")
    ap.add_argument("--max-steps", type=int, default=2000, help="step cap for part 3")
    ap.add_argument(
        "--repeats", type=int, default=0, help="runs per seed in part 3 (default 2; quick 1)"
    )
    ap.add_argument(
        "--profile", action="store_true", help="also profile the numpy trainer (per line)"
    )
    ap.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads (default: cores)"
    )
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    threads = args.torch_threads or cores
    torch.set_num_threads(threads)
    in_step, in_eval = blas_threads_inside_trainer()
    load0 = os.getloadavg()
    seeds = args.seeds if args.seeds else ([0] if args.quick else [0, 1, 2])
    quick = ["--quick"] if args.quick else []

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
    sys.stdout.flush()
    subprocess.run(worker_cmd("steps", "--torch-threads", str(threads), *quick), check=True)
    repeats = args.repeats or (1 if args.quick else 2)
    train_ratio, per_step_ratio = bench_to_solved(seeds, args.max_steps, threads, repeats)

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
                "wall time to 729/729 (sum over runs)",
                f"{train_ratio:.2f}x",
                f"<= {TARGET_TRAIN}x",
                verdict(train_ratio, TARGET_TRAIN),
            ],
            [
                "  same, per training step incl. eval (info)",
                f"{per_step_ratio:.2f}x",
                f"<= {TARGET_TRAIN}x",
                verdict(per_step_ratio, TARGET_TRAIN),
            ],
        ],
    )
    load1 = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load1)}")
    if args.profile:
        sys.stdout.flush()
        subprocess.run(worker_cmd("profile", *quick), check=True)


if __name__ == "__main__":
    main()
