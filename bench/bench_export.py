"""Video export throughput: frames per second written and output size, per codec, for synthetic
frames that look like our renders (dark background, coloured cell grids, a slow camera pan, a
few cells changing and a moving highlight per frame). Frame synthesis is not timed.

    python bench/bench_export.py [--frames 60] [--size 1280x720] [--fps 30] [--repeat 3]
                                 [--codecs ffv1,x264rgb,mp4,gif,png]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from llmviz_desktop.export.video import CODECS, decode_video, export_frames, ffmpeg_exe

SUFFIX = {"ffv1": ".mkv", "x264rgb": ".mkv", "mp4": ".mp4", "gif": ".gif", "png": ""}
BACKGROUND = np.array([9, 11, 15], np.float32)  # the renderer's clear colour
HUES = np.array([[120, 80, 230], [40, 200, 120], [60, 140, 240], [230, 150, 60]], np.float32)


def render_like_frames(n: int, w: int, h: int, seed: int = 0) -> list[np.ndarray]:
    """Tensors as grids of cells (9 px + 1 px gap, a lighter outline), one hue per tensor and
    brightness by value, packed in rows on the dark background; per frame a few cells change,
    one tensor is highlighted, and the camera pans slowly."""
    rng = np.random.default_rng(seed)
    pad = 3 * n  # room for the pan
    ch, cw = h + pad, w + pad
    canvas0 = np.broadcast_to(BACKGROUND, (ch, cw, 3)).copy()
    tensors: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    x, y, row_h = 20, 20, 0
    while True:
        rows, cols = int(rng.integers(3, 30)), int(rng.integers(2, 24))
        th, tw = rows * 10 + 1, cols * 10 + 1
        if x + tw > cw - 20:
            x, y, row_h = 20, y + row_h + 30, 0
        if y + th > ch - 20:
            break
        hue = HUES[len(tensors) % len(HUES)]
        tensors.append((y, x, rng.random((rows, cols)).astype(np.float32), hue))
        x, row_h = x + tw + 24, max(row_h, th)
    frames = []
    for i in range(n):
        canvas = canvas0.copy()
        for t, (y0, x0, values, hue) in enumerate(tensors):
            rows, cols = values.shape
            k = rng.integers(0, values.size, size=max(1, values.size // 40))
            values.flat[k] = rng.random(k.size)
            light = 0.25 + 0.75 * values
            if t == i % len(tensors):
                light = np.minimum(light * 1.4, 1.0)  # the highlighted tensor this frame
            cells = np.repeat(np.repeat(hue * light[..., None], 10, 0), 10, 1)
            block = canvas[y0 : y0 + rows * 10 + 1, x0 : x0 + cols * 10 + 1]
            block[:] = hue * 0.45  # outline and gaps
            inner = block[1:, 1:]
            gap = np.zeros((rows * 10, cols * 10), bool)
            gap[9::10, :] = gap[:, 9::10] = True
            inner[:] = np.where(gap[..., None], BACKGROUND + 14, cells)
        dy, dx = (2 * i) % pad, (3 * i) % pad
        frames.append(np.ascontiguousarray(canvas[dy : dy + h, dx : dx + w].astype(np.uint8)))
    return frames


def ffmpeg_version() -> str:
    try:
        out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout
        return out.split("\n", 1)[0]
    except Exception as e:  # noqa: BLE001 - a bench header, nothing depends on it
        return f"ffmpeg ? ({e})"


def size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir()) / 1e6
    return path.stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--codecs", default=",".join(CODECS))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    w, h = (int(s) for s in args.size.lower().split("x"))
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {platform.system()}")  # fmt: skip
    print(ffmpeg_version())
    t0 = time.perf_counter()
    frames = render_like_frames(args.frames, w, h)
    raw_mb = sum(f.nbytes for f in frames) / 1e6
    print(
        f"{args.frames} frames of {w}x{h} ({raw_mb:.0f} MB raw rgb24) at {args.fps:g} fps, "
        f"synthesised in {time.perf_counter() - t0:.1f} s (not timed below)\n"
    )
    print(
        f"{'codec':<9} {'frames/s':>9} {'seconds':>8} {'size MB':>8} {'ratio':>6}  "
        f"decoded vs input (median of {args.repeat} runs)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for codec in codecs:
            out = Path(tmp) / ("out" + SUFFIX[codec])
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                export_frames(frames, out, args.fps, codec, total=len(frames))
                times.append(time.perf_counter() - t)
            dt = statistics.median(times)
            mb = size_mb(out)
            decoded = decode_video(out)
            if decoded.shape == (len(frames), h, w, 3) and np.array_equal(decoded, frames):
                check = "bit-identical"
            else:
                diff = np.abs(decoded[:, :h, :w].astype(np.int16) - np.stack(frames)).mean()
                check = f"mean |diff| {diff:.2f} / 255"
            print(
                f"{codec:<9} {len(frames) / dt:>9.1f} {dt:>8.2f} {mb:>8.2f} "
                f"{raw_mb / mb:>5.0f}x  {check}"
            )


if __name__ == "__main__":
    main()
