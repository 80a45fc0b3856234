"""How much of the picture moves while the model learns (issue 14, item 7): the share of the
free area (the window less the panels, 1280x720, default camera) whose pixels change during
one second of training, per weight view. The trainer's step rate is measured first on this
machine; then the app's refresh (session/learning.py REFRESH_S) is replayed headless: a frame
every REFRESH_S seconds of training, `LiveTraining.step_now` between them, consecutive images
diffed. "weights, linear" was the default before issue 14; "change, symlog" is the default now.

    python bench/bench_learning_motion.py [--seconds 1] [--start-step 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.session.learning import REFRESH_S, Learning
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState

W, H = 1280, 720
CHANGED = 8  # a pixel changed when a channel moved by more than this (of 255)


def step_rate(learning: Learning, steps: int = 60) -> float:
    t = learning.training
    assert t is not None
    start = time.perf_counter()
    t.step_now(steps)
    return steps / (time.perf_counter() - start)


def motion(view: str, symlog: bool, seconds: float, start_step: int, rate: float) -> tuple:
    session = HeadlessSession(W, H)
    model = load_model("nano-sort")
    state = AppState.create(model, camera_preset("overview", model.scene, W, H), W, H)
    learning = state.controllers.learning = Learning(view=view)
    state.view.colors.symlog = symlog
    learning.start_training(model)
    t = learning.training
    assert t is not None
    t.pause()  # stepped here, between frames
    t.reset(seed=0)
    t.step_now(start_step)
    per_frame = max(1, round(rate * REFRESH_S))
    frames = max(2, round(seconds / REFRESH_S) + 1)
    now, images, free = 0.0, [], None
    for _ in range(frames):
        now += REFRESH_S
        images.append(session.render(state, REFRESH_S)[..., :3].astype(np.int16))
        assert session.last is not None
        free = session.last.free_area
        t.step_now(per_frame)
    session.release()
    t.stop()
    assert free is not None
    x0, y0, x1, y1 = (int(round(v)) for v in free)
    crop = [im[y0:y1, x0:x1] for im in images]
    moved = np.zeros(crop[0].shape[:2], bool)
    pairs = []
    for a, b in zip(crop, crop[1:], strict=False):
        changed = np.abs(a - b).max(axis=-1) > CHANGED
        pairs.append(changed.mean())
        moved |= changed
    background = np.abs(crop[0] - crop[0][0, 0]).max(axis=-1) <= CHANGED
    drawn = ~background | moved  # the model's pixels (anything not background)
    return moved.mean(), moved[drawn].mean(), float(np.mean(pairs)), int(moved.sum()), moved.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--start-step", type=int, default=0)
    args = parser.parse_args()
    probe = Learning()
    probe.start_training(load_model("nano-sort"))
    assert probe.training is not None
    probe.training.pause()
    rate = step_rate(probe)
    probe.training.stop()
    print(f"training: {rate:.0f} steps/s on this machine; a frame every {REFRESH_S} s")
    print(f"from step {args.start_step}, {args.seconds:g} s of training, 1280x720, free area")
    print("moved: changed at least once in the second; per frame: between consecutive frames")
    head = f"{'view':<18}{'of free area':>13}{'of model px':>12}{'per frame':>10}{'pixels':>9}"
    print(head + f"{'free px':>9}")
    for view, symlog in (("weights", False), ("weights", True), ("change", True)):
        share, of_model, per, pixels, area = motion(
            view, symlog, args.seconds, args.start_step, rate
        )
        name = f"{view}, {'symlog' if symlog else 'linear'}"
        print(f"{name:<18}{share:>13.1%}{of_model:>12.1%}{per:>10.1%}{pixels:>9,}{area:>9,}")


if __name__ == "__main__":
    main()
