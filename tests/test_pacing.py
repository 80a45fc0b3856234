"""Frame pacing (pure): full rate while something moves or the user is at work, the idle rate
after a quiet spell, a long wait while hidden."""

from __future__ import annotations

import pytest

from llmviz_desktop.app.pacing import (
    ACTIVE_FPS,
    HIDDEN_WAIT_S,
    IDLE_AFTER_S,
    IDLE_FPS,
    FramePacer,
)


def test_quiet_and_still_is_the_idle_rate():
    p = FramePacer()
    assert p.wait(100.0, 100.004, animating=False, hidden=False) == pytest.approx(
        1 / IDLE_FPS - 0.004
    )


def test_input_and_animation_keep_the_full_rate():
    p = FramePacer()
    p.touch(100.0)
    assert p.wait(101.0, 101.004, False, False) == pytest.approx(1 / ACTIVE_FPS - 0.004)
    later = 100.0 + IDLE_AFTER_S + 0.1
    assert p.wait(later, later + 0.004, False, False) == pytest.approx(1 / IDLE_FPS - 0.004)
    assert p.wait(later, later + 0.004, True, False) == pytest.approx(1 / ACTIVE_FPS - 0.004)


def test_a_slow_frame_never_waits():
    p = FramePacer()
    assert p.wait(100.0, 100.5, False, False) == 0.0
    p.touch(100.0)
    assert p.wait(100.0, 100.05, True, False) == 0.0


def test_hidden_waits_long_whatever_else():
    p = FramePacer()
    p.touch(100.0)
    assert p.wait(100.0, 100.001, True, True) == HIDDEN_WAIT_S
