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
    time: float = 0.0  # seconds into the chapter at speed 1
    playing: bool = False
    speed: float = 1.0
    active: bool = False  # the walkthrough drives the scene (off: free exploration)
    free_camera: bool = False  # the user moved the camera; given back at the next step

    @property
    def chapter(self) -> Chapter:
        return self.chapters.chapters[self.chapter_index]

    def step_start(self, k: int) -> float:
        return sum(s.duration for s in self.chapter.steps[:k])

    def position(self) -> tuple[int, float]:
        """(step index, progress 0..1 within it)."""
        steps = self.chapter.steps
        t = min(max(self.time, 0.0), self.chapter.duration)
        start = 0.0
        for k, s in enumerate(steps):
            if t < start + s.duration or k == len(steps) - 1:
                return k, min(max((t - start) / s.duration, 0.0), 1.0)
            start += s.duration
        return len(steps) - 1, 1.0

    def advance(self, dt: float) -> None:
        if not (self.playing and self.active):
            return
        before = self.position()[0]
        self.time = min(self.time + dt * self.speed, self.chapter.duration)
        if self.position()[0] != before:
            self.free_camera = False
        if self.time >= self.chapter.duration:
            self.playing = False

    def seek(self, time: float) -> None:
        self.time = min(max(time, 0.0), self.chapter.duration)
        self.free_camera = False

    def goto_step(self, k: int, progress: float = 0.0) -> None:
        k = min(max(k, 0), len(self.chapter.steps) - 1)
        self.seek(self.step_start(k) + progress * self.chapter.steps[k].duration)

    def next_step(self) -> None:
        k, _ = self.position()
        if k + 1 < len(self.chapter.steps):
            self.goto_step(k + 1)
        elif self.chapter_index + 1 < len(self.chapters.chapters):
            self.set_chapter(self.chapter_index + 1)
        else:
            self.seek(self.chapter.duration)

    def prev_step(self) -> None:
        k, p = self.position()
        if p > 0.02 or k == 0 and self.time > 0:
            self.goto_step(k)  # back to the start of this step first
        elif k > 0:
            self.goto_step(k - 1)
        elif self.chapter_index > 0:
            self.set_chapter(self.chapter_index - 1)
            self.goto_step(len(self.chapter.steps) - 1)

    def set_chapter(self, index: int) -> None:
        self.chapter_index = min(max(index, 0), len(self.chapters.chapters) - 1)
        self.time = 0.0
        self.active = True
        self.free_camera = False

    def toggle(self) -> None:
        self.active = True
        if self.time >= self.chapter.duration:
            self.time = 0.0
        self.playing = not self.playing
