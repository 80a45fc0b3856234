"""The one background worker (model/worker.py) that live training and the superposition demo
share: start / pause / stop, the switch interval while it runs, and a failing step."""

from __future__ import annotations

import sys
import threading
import time

from llmviz_desktop.model.worker import FAST_SWITCH_S, BackgroundWorker


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


def test_ticks_while_running_idles_when_paused_and_stops():
    calls: list[bool] = []

    def tick(running: bool):
        calls.append(running)
        return 0.0 if running else None

    w = BackgroundWorker("test-worker", tick)
    try:
        w.start()
        assert w.running and wait_until(lambda: calls.count(True) >= 5)
        w.pause()
        assert not w.running
        time.sleep(0.05)  # a tick in flight may finish; then the thread only idles
        before = calls.count(True)
        time.sleep(0.25)
        assert calls.count(True) == before  # paused: no running ticks
        assert calls.count(False) >= 1  # paused, the thread still looks in (at most 10 Hz)
    finally:
        w.stop()
    assert not w.alive


def test_the_switch_interval_is_short_only_while_a_worker_runs():
    before = sys.getswitchinterval()
    a = BackgroundWorker("a", lambda running: None)
    b = BackgroundWorker("b", lambda running: None)
    try:
        a.start()
        assert sys.getswitchinterval() == FAST_SWITCH_S
        b.start()
        a.pause()
        assert sys.getswitchinterval() == FAST_SWITCH_S  # b still runs
        b.pause()
        assert sys.getswitchinterval() == before
    finally:
        a.stop()
        b.stop()
    assert sys.getswitchinterval() == before


def test_a_failing_tick_is_reported_pauses_and_can_start_again():
    failures: list[str] = []
    fail = threading.Event()
    fail.set()
    ok = []

    def tick(running: bool):
        if running and fail.is_set():
            raise ValueError("boom in a step")
        if running:
            ok.append(1)
        return 0.0 if running else None

    w = BackgroundWorker("test-failing", tick, lambda e: failures.append(str(e)))
    try:
        w.start()
        assert wait_until(lambda: failures == ["boom in a step"])
        assert wait_until(lambda: not w.running) and w.alive  # paused, thread kept
        fail.clear()
        w.start()
        assert wait_until(lambda: len(ok) >= 3)
    finally:
        w.stop()


def test_live_training_reports_a_failed_step_and_pauses():
    from llmviz_desktop.model.config import preset
    from llmviz_desktop.session.training import LiveTraining

    t = LiveTraining(preset("nano-sort"))

    def broken(lr=None):
        raise FloatingPointError("overflow in a step")

    t.trainer.step = broken  # type: ignore[method-assign]
    try:
        t.start()
        assert wait_until(lambda: t.error != "")
        assert "overflow in a step" in t.error and wait_until(lambda: not t.running)
    finally:
        t.stop()


def test_a_superposition_tick_begun_before_a_reset_does_not_step_the_new_vectors():
    from llmviz_desktop.demos.superposition import Superposition, SuperpositionRunner

    runner = SuperpositionRunner(Superposition(6, 12))
    runner.start()
    runner.reset(Superposition(6, 13))  # pauses
    runner.stop()  # the thread ends: the ticks below are driven by hand
    for _ in range(3):  # as if the loop had read `running` just before reset() paused it
        runner._tick(True)
    assert runner.superposition.step_count == 0 and not runner.running
    assert runner.snapshot is not None and runner.snapshot.n_vectors == 13
