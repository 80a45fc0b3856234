"""Live training with the UI running: frames per second of the app's frame path at 1280x720
(software GL; frames paced at 60 Hz like the vsync'd window) while the background trainer
runs, and training steps per second with the UI running versus headless (no UI).
Issue 6 asks for >= 30 fps while training.

    python bench/bench_training_ui.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import time

from llmviz_desktop.app.headless import HeadlessSession
from llmviz_desktop.model.config import preset
from llmviz_desktop.scene.framing import camera_preset
from llmviz_desktop.session.learning import Learning
from llmviz_desktop.session.loaded import load_model
from llmviz_desktop.session.state import AppState
from llmviz_desktop.session.training import LiveTraining


def headless_rate(seconds: float) -> float:
    t = LiveTraining(preset("nano-sort"), seed=0)
    t.start()
    time.sleep(0.5)
    s0, t0 = t.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    rate = (t.snapshot().step - s0) / (time.perf_counter() - t0)
    t.stop()
    return rate


def with_ui(seconds: float) -> tuple[float, float, float]:
    w, h = 1280, 720
    session = HeadlessSession(w, h)
    model = load_model("nano-sort")
    state = AppState.create(model, camera_preset("overview", model.scene, w, h), width=w, height=h)
    state.controllers.learning = Learning()
    state.controllers.learning.start_training(model)
    training = state.controllers.learning.training
    session.target.use()
    frames, start = 0, time.perf_counter()
    s0 = training.snapshot().step
    worst = 0.0
    last = start
    while time.perf_counter() - start < seconds:
        now = time.perf_counter()
        session.render(state, now - last)  # tick (training update) + draw, as the window
        worst = max(worst, time.perf_counter() - now)
        last = now
        frames += 1
        spare = 1 / 60 - (time.perf_counter() - now)  # the window is vsync-paced at 60 Hz
        if spare > 0:
            time.sleep(spare)
    elapsed = time.perf_counter() - start
    steps = training.snapshot().step - s0
    training.stop()
    session.release()
    return frames / elapsed, steps / elapsed, worst * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    fps, ui_rate, worst = with_ui(args.seconds)
    alone = headless_rate(args.seconds)
    print(f"{'measure':<44} {'value':>10}")
    print("-" * 56)
    print(
        f"{'UI frames per second while training':<44} {fps:>10.1f}   target >= 30: "
        f"{'PASS' if fps >= 30 else 'MISS'}"
    )
    print(f"{'slowest frame (ms)':<44} {worst:>10.1f}")
    print(f"{'training steps/s with the UI running':<44} {ui_rate:>10.1f}")
    print(f"{'training steps/s headless (no UI)':<44} {alone:>10.1f}")
    print(f"{'ratio UI / headless':<44} {ui_rate / alone:>10.2f}")


if __name__ == "__main__":
    main()
