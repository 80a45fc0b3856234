"""Soak: N frames of scripted use (camera, hover and pins, walkthrough play and scrub, input
edits, model switches nano-sort <-> gpt2-xl <-> gpt3, training steps) through one headless
session; live GL objects and resident memory sampled along the way. Target (the soak issue):
after warm-up (the first 20 % of frames) nothing grows by more than 5 % over 10,000 frames.

    python bench/soak.py [--frames 10000] [--size 640x360] [--sample-every 50] [--seed 0]
                         [--series]

Prints one row per metric: after warm-up, at the end, growth, the 5 % limit, PASS/MISS; then
the frame rate and what the script did. Exits 1 on a MISS or a GL error.
"""

from __future__ import annotations

import argparse
import sys
import time

from soak_driver import GL_METRICS, METRICS, run_soak

from llmviz_desktop.cli.render import parse_size

LIMIT = 0.05
WARMUP = 0.2


def fmt(metric: str, value: float) -> str:
    return f"{value / 2**20:,.1f} MiB" if metric == "rss" else f"{value:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--size", type=parse_size, default=(640, 360), help="WIDTHxHEIGHT")
    parser.add_argument("--sample-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--series", action="store_true", help="print every sample too")
    args = parser.parse_args()
    width, height = args.size
    start = time.perf_counter()
    report = run_soak(args.frames, width, height, args.sample_every, args.seed)
    wall = time.perf_counter() - start
    growth = report.growth(WARMUP)

    if args.series:
        print(f"{'frame':>7} {'s':>7} " + " ".join(f"{m[:8]:>8}" for m in GL_METRICS) + "  rss MiB")
        for s in report.samples:
            gl = " ".join(f"{s.gl[m]:>8}" for m in GL_METRICS)
            print(f"{s.frame:>7} {s.seconds:>7.1f} {gl}  {s.rss / 2**20:>7.1f}")
        print()

    first = int(growth["rss"]["from_frame"])
    print(
        f"soak: {report.frames:,} frames at {width}x{height}, {report.renderer}; "
        f"warm-up {WARMUP:.0%} (baseline: frame {first:,})"
    )
    header = f"{'after warm-up':>14} {'at the end':>14} {'growth':>9} {'limit':>6}"
    print(f"{'metric':<14} {header}  result")
    failed = False
    for metric in METRICS:
        g = growth[metric]
        ok = g["growth"] <= LIMIT
        failed |= not ok
        print(
            f"{metric:<14} {fmt(metric, g['after_warmup']):>14} {fmt(metric, g['end']):>14} "
            f"{g['growth'] * 100:>8.2f}% {LIMIT:>6.0%}  {'PASS' if ok else 'MISS'}"
        )
    print(
        "rss: max of the first 3 samples after warm-up vs max of the last 3; GL objects: first "
        "sample after warm-up vs the largest after it"
    )
    print(
        f"frames per second: {report.fps:.1f} (sampling excluded); loop {report.seconds:.0f} s, "
        f"sampling {report.sample_seconds:.1f} s, total with setup {wall:.0f} s"
    )
    errors = report.gl_errors + ([(report.frames, report.gl_error)] if report.gl_error else [])
    errors = [(f, e) for f, e in errors if e != "GL_NO_ERROR"]
    print(f"GL errors: {errors or 'none'}")
    failed |= bool(errors)
    print("actions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items())))
    print("frames shown: " + ", ".join(f"{k} {v}" for k, v in sorted(report.coverage.items())))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
