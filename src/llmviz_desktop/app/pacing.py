"""Frame pacing for the window: how long to wait after a frame (pure; the app does the waiting).

Software OpenGL under X has no vsync to hold a loop back, so an unpaced window redraws an
unchanged picture as fast as the CPU allows (a whole core, and the training thread starved).
The pacer caps drawing at ACTIVE_FPS while something moves or the user is at work, drops to
IDLE_FPS once nothing has happened for IDLE_AFTER_S, and nearly stops while the window is
minimised (or has no pixels): then it only wakes to see whether it is back.

Idle frames are still drawn (not skipped): after a swap the back buffer's contents are
undefined, and Mesa's software path under X shows a black window if a frame is swapped
without being drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVE_FPS = 60.0
IDLE_FPS = 5.0  # nothing changes while idle; input wakes the window at once regardless
IDLE_AFTER_S = 2.0  # longer than any camera flight a key or click starts (walkthrough: 1.5 s)
HIDDEN_WAIT_S = 0.25


@dataclass
class FramePacer:
    last_input: float = float("-inf")

    def touch(self, now: float) -> None:
        """An input event: draw at the full rate for a while."""
        self.last_input = now

    def idle(self, now: float, animating: bool) -> bool:
        return not animating and now - self.last_input >= IDLE_AFTER_S

    def wait(self, frame_start: float, now: float, animating: bool, hidden: bool) -> float:
        """Seconds to wait before the next frame, which began at `frame_start` (now: after
        drawing it)."""
        if hidden:
            return HIDDEN_WAIT_S
        fps = IDLE_FPS if self.idle(now, animating) else ACTIVE_FPS
        return max(0.0, frame_start + 1.0 / fps - now)
