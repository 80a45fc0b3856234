"""Peak memory of a GIF export against the number of frames: each export runs in a fresh
subprocess that streams synthetic render-like frames (made one at a time, never kept) into
``export_frames(..., codec="gif")`` and reports its peak RSS (ru_maxrss) before and after. A
streaming encoder keeps the growth flat in the number of frames.

    python bench/bench_gif_memory.py [--frames 60,600] [--size 640x360] [--fps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BACKGROUND = np.array([9, 11, 15], np.uint8)  # the renderer's clear colour
HUES = np.array([[120, 80, 230], [40, 200, 120], [60, 140, 240], [230, 150, 60]], np.float32)


def frames(n: int, w: int, h: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Cell grids on the dark background (10 px cells, one hue per tensor), a few cells
    changing per frame and a slow pan; every frame differs from the one before."""
    rng = np.random.default_rng(seed)
    cw, ch = w + 64, h + 64
    rows, cols = ch // 10 + 1, cw // 10 + 1
    values = rng.random((rows, cols)).astype(np.float32)
    hue = HUES[(np.arange(cols) // 6) % len(HUES)]  # [cols, 3]
    for i in range(n):
        k = rng.integers(0, values.size, size=values.size // 50)
        values.flat[k] = rng.random(k.size)
        cells = (hue[None, :, :] * (0.25 + 0.75 * values[..., None])).astype(np.uint8)
        canvas = np.repeat(np.repeat(cells, 10, 0), 10, 1)
        canvas[::10] = BACKGROUND
        canvas[:, ::10] = BACKGROUND
        dx, dy = i % 64, (i // 2) % 64
        yield np.ascontiguousarray(canvas[dy : dy + h, dx : dx + w])


def child(n: int, w: int, h: int, fps: float) -> None:
    from llmviz_desktop.export.video import export_frames

    next(frames(1, w, h))  # numpy and Pillow warmed up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        out = export_frames(frames(n, w, h), Path(d) / "m.gif", fps, "gif", total=n)
        seconds = time.perf_counter() - t
        size = out.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "peak_kib": peak, "bytes": size, "s": seconds}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", default="60,600", help="frame counts, comma-separated")
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.child is not None:
        child(args.child, w, h, args.fps)
        return
    print(f"GIF export peak memory, {w}x{h} at {args.fps:g} fps ({platform.python_version()})")
    head = ("frames", "RSS before", "peak RSS", "growth", "file", "time")
    print(" ".join(f"{t:>{n}}" for t, n in zip(head, (7, 11, 10, 9, 9, 7), strict=True)))
    for n in (int(v) for v in args.frames.split(",")):
        r = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--size", args.size, "--fps",
             str(args.fps)],
            capture_output=True, text=True, check=True, env=dict(os.environ),
        )  # fmt: skip
        m = json.loads(r.stdout.strip().splitlines()[-1])
        before, peak = m["before_kib"] / 1024, m["peak_kib"] / 1024
        print(
            f"{n:>7} {before:>8.1f} MiB {peak:>6.1f} MiB {peak - before:>5.1f} MiB "
            f"{m['bytes'] / 1e6:>6.2f} MB {m['s']:>5.1f} s"
        )


if __name__ == "__main__":
    main()
