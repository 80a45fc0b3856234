"""Frame time of the nano-sort, gpt2-xl and gpt3 scenes at 1280x720 on this machine's OpenGL
(llvmpipe in CI), each as a ratio to an empty frame (clear + UI) measured in the same run.
First, the layout alone: build_scene for each preset (the gpt3 shell: <= 1 s, which
tests/test_layout.py used to time).

    python bench/bench_render.py [--frames 60] [--size 1280x720]

Targets (issue 3): nano-sort <= 5x the empty frame, gpt3 <= 10x. A scene frame is the full
frame path (boxes, labels, section brackets, panel); the empty frame is the clear and the panel
alone. Each is followed by ctx.finish(), so the GPU work is counted.
"""

from __future__ import annotations

import argparse
import statistics
import time

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.cli.render import parse_size
from llmviz_desktop.model.config import PRESETS
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.scene.layout import build_scene
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState
from llmviz_desktop.ui.panels import draw_ui

TARGETS = {"nano-sort": 5.0, "gpt3": 10.0}


def time_frames(session: HeadlessSession, state: AppState, frames: int, scene: bool):
    session.target.use()
    times = []
    for i in range(frames + 5):  # 5 warm-up frames
        start = time.perf_counter()
        frame = session.ticker.tick(state, 0.0)
        session.ui.new_frame()
        session.frame.render(frame.drawing, lambda f=frame: draw_ui(state, f), scene=scene)
        session.ctx.finish()
        if i >= 5:
            times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=parse_size, default=(1280, 720))
    args = parser.parse_args()
    w, h = args.size
    print(f"{'layout':<10} {'boxes':>6} {'build ms':>9}  target")
    for name in ("nano-sort", "gpt2-xl", "gpt3"):
        start = time.perf_counter()
        built = build_scene(PRESETS[name])
        ms = (time.perf_counter() - start) * 1e3
        target = "<= 1000 ms " + ("PASS" if ms <= 1000 else "MISS") if name == "gpt3" else "-"
        print(f"{name:<10} {len(built.boxes):>6} {ms:>9.1f}  {target}")
    print()
    session = HeadlessSession(w, h)
    print(f"renderer: {session.ctx.info['GL_RENDERER']}, {w}x{h}, {args.frames} frames each\n")
    rows = []
    for name in ("nano-sort", "gpt2-xl", "gpt3"):
        model = load_model(name)
        state = AppState.create(
            model, camera_preset("overview", model.scene, w, h), width=w, height=h
        )
        # empty frame and scene frame interleaved in blocks, so both see the same load
        empty, full = [], []
        for _ in range(3):
            state.view.show_labels = (
                False  # the empty frame: clear + the panel, nothing of the model
            )
            empty += time_frames(session, state, args.frames // 3, scene=False)
            state.view.show_labels = True
            full += time_frames(session, state, args.frames // 3, scene=True)
        e, f = statistics.median(empty), statistics.median(full)
        target = TARGETS.get(name)
        status = "-" if target is None else ("PASS" if f / e <= target else "MISS")
        rows.append((name, len(model.scene.boxes), e, f, f / e, target, status))
    header = (
        f"{'scene':<10} {'boxes':>6} {'empty ms':>9} {'scene ms':>9} {'ratio':>7} "
        f"{'target':>7}  status"
    )
    print(header)
    print("-" * len(header))
    for name, boxes, e, f, ratio, target, status in rows:
        t = f"<= {target:g}x" if target else "-"
        print(f"{name:<10} {boxes:>6} {e:>9.2f} {f:>9.2f} {ratio:>6.2f}x {t:>7}  {status}")
    session.release()


if __name__ == "__main__":
    main()
