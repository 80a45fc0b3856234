"""Playback position in the walkthrough (pure): chapter, time within it, play/pause, speed.

The picture is a function of (chapter, step, progress) only; the player just turns wall-clock
time into that position, so pausing, stepping and scrubbing never change what a moment shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chapters import Chapter, ChapterSet

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


@dataclass
class Player:
    chapters: ChapterSet
    chapter_index: int = 0
    step: int = 0  # the position is (step, progress): the end of step k and the start of
    progress: float = 0.0  # step k + 1 are the same instant, yet different pictures
    playing: bool = False
    speed: float = 1.0
    active: bool = False  # the walkthrough drives the scene (off: free exploration)
    free_camera: bool = False  # the user moved the camera; given back at the next step

    @property
    def chapter(self) -> Chapter:
        return self.chapters.chapters[self.chapter_index]

    def step_start(self, k: int) -> float:
        return sum(s.duration for s in self.chapter.steps[:k])

    @property
    def time(self) -> float:
        """Seconds into the chapter at speed 1 (what the timeline slider shows)."""
        return self.step_start(self.step) + self.progress * self.chapter.steps[self.step].duration

    def position(self) -> tuple[int, float]:
        """(step index, progress 0..1 within it)."""
        return self.step, self.progress

    def seek(self, time: float) -> None:
        """Jump to a time; a step boundary belongs to the step that starts there."""
        steps = self.chapter.steps
        t = min(max(time, 0.0), self.chapter.duration)
        start = 0.0
        for k, s in enumerate(steps):
            if t < start + s.duration or k == len(steps) - 1:
                self.step, self.progress = k, min(max((t - start) / s.duration, 0.0), 1.0)
                break
            start += s.duration
        self.free_camera = False

    def advance(self, dt: float) -> None:
        if not (self.playing and self.active):
            return
        before, free = self.step, self.free_camera
        self.seek(self.time + dt * self.speed)
        self.free_camera = free and self.step == before  # a new step takes the camera back
        if self.step == len(self.chapter.steps) - 1 and self.progress >= 1.0:
            self.playing = False

    def goto_step(self, k: int, progress: float = 0.0) -> None:
        self.step = min(max(k, 0), len(self.chapter.steps) - 1)
        self.progress = min(max(progress, 0.0), 1.0)
        self.free_camera = False

    def next_step(self) -> None:
        if self.step + 1 < len(self.chapter.steps):
            self.goto_step(self.step + 1)
        elif self.chapter_index + 1 < len(self.chapters.chapters):
            self.set_chapter(self.chapter_index + 1)
        else:
            self.goto_step(self.step, 1.0)

    def prev_step(self) -> None:
        if self.progress > 0.02:
            self.goto_step(self.step)  # back to the start of this step first
        elif self.step > 0:
            self.goto_step(self.step - 1)
        elif self.chapter_index > 0:
            self.set_chapter(self.chapter_index - 1)
            self.goto_step(len(self.chapter.steps) - 1)

    def set_chapter(self, index: int) -> None:
        self.chapter_index = min(max(index, 0), len(self.chapters.chapters) - 1)
        self.step, self.progress = 0, 0.0
        self.active = True
        self.free_camera = False

    def toggle(self) -> None:
        self.active = True
        if self.step == len(self.chapter.steps) - 1 and self.progress >= 1.0:
            self.goto_step(0)
        self.playing = not self.playing
