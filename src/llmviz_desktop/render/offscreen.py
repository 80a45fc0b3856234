"""An offscreen framebuffer to render into and read back (headless rendering, tests, video)."""

from __future__ import annotations

import moderngl
import numpy as np


class Offscreen:
    """samples > 1: multisampled (anti-aliased), resolved into a plain buffer on read. A
    driver that refuses the sample count gets a plain target (self.samples says which)."""

    def __init__(self, ctx: moderngl.Context, width: int, height: int, samples: int = 0):
        self.ctx, self.width, self.height = ctx, width, height
        self._resolve: moderngl.Framebuffer | None = None
        try:
            self._create(samples)
        except moderngl.Error:
            if not samples:
                raise
            self._create(0)  # no multisampling here: jagged edges, not no picture

    def _create(self, samples: int) -> None:
        ctx, width, height = self.ctx, self.width, self.height
        self.samples = samples
        self.color = ctx.renderbuffer((width, height), 4, samples=samples)
        self.depth = ctx.depth_renderbuffer((width, height), samples=samples)
        self.fbo = ctx.framebuffer([self.color], self.depth)
        if samples:
            self._resolve_rb = ctx.renderbuffer((width, height), 4)
            self._resolve = ctx.framebuffer([self._resolve_rb])

    def use(self) -> None:
        self.fbo.use()

    def read(self) -> np.ndarray:
        """RGBA uint8 [height, width, 4], top row first (GL's origin is bottom-left)."""
        src = self.fbo
        if self._resolve is not None:
            self.ctx.copy_framebuffer(self._resolve, self.fbo)
            src = self._resolve
        data = src.read(components=4, alignment=1)
        return np.frombuffer(data, np.uint8).reshape(self.height, self.width, 4)[::-1].copy()

    def release(self) -> None:
        for obj in (
            self.fbo,
            self.color,
            self.depth,
            self._resolve,
            getattr(self, "_resolve_rb", None),
        ):
            if obj is not None:
                obj.release()
