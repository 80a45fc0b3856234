"""Every walkthrough step rendered headless (1280x720, the panels shown, as `llmviz render`
draws it): how the step's camera frames its subject at progress 1 (the render report's
`walkthrough.subject`: span, largest tensor and the part inside the free area, as fractions
of the free area) and how much of the free area changes between progress 0.3 and 1 (pixels
whose colour moves by more than 24/255 in a channel). Issue 15's must-holds: span >= 0.40,
largest >= 0.10, inside >= 0.90 for every step; at most 10 % of steps change under 1 %.

    python bench/bench_walkthrough.py [--size 1280x720] [--chapter ID] [--png-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.cli.render import parse_size, subject_report
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.scene.subject import MIN_INSIDE, MIN_LARGEST, MIN_SPAN
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState
from llmviz_desktop.walkthrough.chapters import load_chapters
from llmviz_desktop.walkthrough.player import Player

EARLY, LATE = 0.3, 1.0
PIXEL_STEP = 24  # of 255: a channel change a viewer notices
SAME_BELOW = 0.01  # a step whose free area changes less than this looks the same


def changed_fraction(a: np.ndarray, b: np.ndarray, free) -> float:
    x0, y0, x1, y1 = (int(round(v)) for v in free)
    da = a[y0:y1, x0:x1, :3].astype(np.int16) - b[y0:y1, x0:x1, :3].astype(np.int16)
    return float((np.abs(da).max(axis=-1) > PIXEL_STEP).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=parse_size, default=(1280, 720))
    ap.add_argument("--chapter", help="only this chapter id")
    ap.add_argument("--png-dir", type=Path, help="also write each step's two frames here")
    args = ap.parse_args()
    w, h = args.size
    chapters = load_chapters()
    model = load_model("nano-sort", None)
    state = AppState.create(model, camera_preset("overview", model.scene, w, h), width=w, height=h)
    session = HeadlessSession(w, h)
    rows, t0 = [], time.perf_counter()
    try:
        for ci, chapter in enumerate(chapters.chapters):
            if args.chapter and chapter.id != args.chapter:
                continue
            player = state.controllers.player = Player(chapters, chapter_index=ci, active=True)
            for k, step in enumerate(chapter.steps):
                images = {}
                for p in (EARLY, LATE):
                    player.goto_step(k, p)
                    images[p] = session.render(state)
                    if args.png_dir:
                        args.png_dir.mkdir(parents=True, exist_ok=True)
                        from PIL import Image

                        name = f"{chapter.id}-{k + 1:02d}-p{int(p * 100):03d}.png"
                        Image.fromarray(images[p], "RGBA").save(args.png_dir / name)
                frame = session.last
                assert frame is not None and frame.walk is not None
                subject = subject_report(state, frame)
                moved = changed_fraction(images[EARLY], images[LATE], frame.free_area)
                rows.append((chapter.id, k + 1, step.title, subject, moved))
    finally:
        session.release()
    seconds = time.perf_counter() - t0

    print(f"{'chapter':16s} {'#':>2s} {'span':>5s} {'large':>5s} {'in':>5s} {'moved':>6s}  title")
    framed_bad = same = 0
    for cid, n, title, s, moved in rows:
        ok = s["span"] >= MIN_SPAN and s["largest"] >= MIN_LARGEST and s["inside"] >= MIN_INSIDE
        framed_bad += not ok
        same += moved < SAME_BELOW
        flags = ("" if ok else " FRAMING") + (" SAME" if moved < SAME_BELOW else "")
        print(
            f"{cid:16s} {n:2d} {s['span']:5.2f} {s['largest']:5.2f} {s['inside']:5.2f} "
            f"{moved:6.1%}  {title}{flags}"
        )
    print(
        f"\n{len(rows)} steps in {seconds:.1f} s: {len(rows) - framed_bad} frame their subject "
        f"(span >= {MIN_SPAN:.0%}, largest >= {MIN_LARGEST:.0%}, inside >= {MIN_INSIDE:.0%}), "
        f"{framed_bad} do not; {same} look the same at {EARLY} and {LATE} "
        f"(< {SAME_BELOW:.0%} of the free area changes; allowed: {int(0.1 * len(rows))})"
    )


if __name__ == "__main__":
    main()
