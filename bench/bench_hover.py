"""Picking plus tooltip build (pick the cell under a pixel, explain it, build the highlight
list) per cursor position, for nano-sort and the gpt3 shell. Target (issue 4): <= 1 ms.
Then explain() alone on 1000 random cells of random boxes (the per-scene cache warm), which
tests/test_explain.py used to time: target <= 2 ms per cell.

    python bench/bench_hover.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

from llmviz_desktop.scene.explain import explain
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.scene.hover import hover_info
from llmviz_desktop.scene.picking import pick_cell
from llmviz_desktop.session.loaded import load_model

W, H = 1280, 720


def positions(model, cam, n: int, rng) -> list[tuple[float, float]]:
    """Half over random points of random boxes (hits), half uniform over the screen."""
    out = []
    boxes = model.scene.boxes
    while len(out) < n // 2:
        box = boxes[rng.integers(len(boxes))]
        ox, oy, oz = box.origin
        world = [ox + rng.random() * box.size[0], oy - rng.random() * box.size[1], oz]
        x, y, depth = cam.project(world, W, H)[0]
        if depth > 0 and 0 <= x < W and 0 <= y < H:
            out.append((x, y))
    out += [(rng.random() * W, rng.random() * H) for _ in range(n - len(out))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"{'model':<10} {'view':<9} {'hits':>6} {'pick us':>8} {'explain us':>11} "
        f"{'total us':>9} {'p99 us':>7}  target"
    )
    for name in ("nano-sort", "gpt3"):
        model = load_model(name)
        scene = model.scene
        for view, cam in (
            ("overview", camera_preset("overview", scene, W, H)),
            ("close", camera_preset("top-layer", scene, W, H)),
        ):
            pick_us, total_us, hits = [], [], 0
            for x, y in positions(model, cam, args.samples, rng):
                t0 = time.perf_counter()
                hit = pick_cell(scene, cam, x, y, W, H)
                t1 = time.perf_counter()
                if hit is not None:
                    # a fresh explanation each time: no cache helps
                    hover_info(scene, hit, model.trace, model.params)
                    hits += 1
                t2 = time.perf_counter()
                pick_us.append((t1 - t0) * 1e6)
                total_us.append((t2 - t0) * 1e6)
            p, t = statistics.mean(pick_us), statistics.mean(total_us)
            p99 = float(np.percentile(total_us, 99))
            status = "PASS" if t <= 1000 else "MISS"
            print(
                f"{name:<10} {view:<9} {hits:>6} {p:>8.1f} {t - p:>11.1f} {t:>9.1f} "
                f"{p99:>7.0f}  <= 1000 us {status}"
            )
    print(f"\n{'model':<10} {'explain() us per cell':>22}  target")
    for name in ("nano-sort", "gpt3"):
        us = explain_us(load_model(name), random.Random(11))
        print(f"{name:<10} {us:>22.1f}  <= 2000 us {'PASS' if us <= 2000 else 'MISS'}")


def explain_us(model, rng: random.Random, n: int = 1000) -> float:
    """Mean microseconds of explain() over n random cells of random boxes."""
    cells = []
    for _ in range(n):
        box = rng.choice(model.scene.boxes)
        cells.append((box.name, rng.randrange(box.rows), rng.randrange(box.cols)))
    explain(model.scene, *cells[0], model.trace, model.params)  # warm the per-scene cache
    start = time.perf_counter()
    for cell in cells:
        explain(model.scene, *cell, model.trace, model.params)
    return (time.perf_counter() - start) / n * 1e6


if __name__ == "__main__":
    main()
