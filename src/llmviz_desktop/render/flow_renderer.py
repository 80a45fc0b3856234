"""Draws a Drawing's data flow (scene/flow.py): every segment, arrowhead and "+" join is one
instance of a camera-facing quad (shaders/flow.glsl), all in one draw, after the boxes, depth
tested against them without writing depth (the paths are translucent)."""

from __future__ import annotations

import moderngl
import numpy as np

from ..scene.drawing import Drawing
from ..scene.flow import KINDS, Flows, flow_opacity
from .programs import bind_block, load_program
from .ubo import GLOBALS_BINDING

LINE, LAST_LINE, ARROW, JOIN = 0, 1, 2, 3  # the shader's forms
VERTICES = 6  # one quad


def flow_instances(flows: Flows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ends float64 [N, 2, 3] world, shape float32 [N, 4], emphasis index int [N]) for every
    drawn piece: each path's segments then its arrowhead, then the joins (drawn last, over
    the lines that meet in them). The emphasis index points into flow_emphasis()'s array."""
    ends: list[np.ndarray] = []
    shape: list[tuple[float, float, float, float]] = []
    which: list[int] = []
    for k, path in enumerate(flows.paths):
        pts = path.points
        if len(pts) < 2:
            continue
        kind, gap = float(KINDS.index(path.kind)), float(flows.scale[k])
        n = len(pts) - 1
        for i in range(n):
            ends.append(pts[i : i + 2])
            shape.append((LAST_LINE if i == n - 1 else LINE, kind, gap, 0.0))
            which.append(k)
        ends.append(pts[n - 1 : n + 1])
        shape.append((ARROW, kind, gap, 0.0))
        which.append(k)
    for j, join in enumerate(flows.joins):
        c = np.asarray(join.center, float)
        ends.append(np.stack([c, c]))
        shape.append((JOIN, 0.0, float(flows.scale[len(flows.paths) + j]), join.radius))
        which.append(len(flows.paths) + j)
    if not ends:
        return np.zeros((0, 2, 3)), np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    return np.array(ends, float), np.array(shape, np.float32), np.array(which, np.int64)


class FlowRenderer:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.program = load_program(ctx, "flow")
        bind_block(self.program, "Globals", GLOBALS_BINDING)
        self.flows: Flows | None = None
        self._ends = np.zeros((0, 2, 3))
        self._which = np.zeros(0, np.int64)
        self._anchor: np.ndarray | None = None
        self._emphasis: np.ndarray | None = None
        self.count = 0
        self.positions: moderngl.Buffer | None = None
        self.shapes: moderngl.Buffer | None = None
        self.emph: moderngl.Buffer | None = None
        self.vao: moderngl.VertexArray | None = None

    def _upload(self, flows: Flows) -> None:
        self._release_flows()
        ends, shape, which = flow_instances(flows)
        self.flows, self._ends, self._which = flows, ends, which
        self._anchor, self._emphasis = None, None
        self.count = len(ends)
        if not self.count:
            return
        self.positions = self.ctx.buffer(reserve=self.count * 24)
        self.shapes = self.ctx.buffer(shape.tobytes())
        self.emph = self.ctx.buffer(reserve=self.count * 8)
        self.vao = self.ctx.vertex_array(
            self.program,
            [
                (self.positions, "3f 3f/i", "in_a", "in_b"),
                (self.shapes, "4f/i", "in_shape"),
                (self.emph, "2f/i", "in_emph"),
            ],
        )

    def draw(self, drawing: Drawing, anchor: np.ndarray) -> None:
        """Draw the paths and joins, positions relative to `anchor` (ubo.frame_globals; the
        frame's Globals block is bound)."""
        flows = drawing.flows
        if flows is None:
            return
        if flows is not self.flows:
            self._upload(flows)
        if self.vao is None or self.positions is None or self.emph is None:
            return
        if self._anchor is None or not np.array_equal(anchor, self._anchor):
            self.positions.write((self._ends - anchor).astype(np.float32).tobytes())
            self._anchor = anchor
        n = len(flows)
        per = np.zeros((self.count, 2), np.float32)  # emphasis, opacity
        emphasis = drawing.flow_emphasis
        if emphasis is not None and len(emphasis) == n:
            per[:, 0] = np.asarray(emphasis, np.float32)[self._which]
        alpha = drawing.motion.alpha if drawing.motion is not None else {}
        per[:, 1] = flow_opacity(flows, alpha)[self._which]
        if self._emphasis is None or not np.array_equal(per, self._emphasis):
            self.emph.write(per.tobytes())
            self._emphasis = per
        fbo = self.ctx.fbo
        self.ctx.enable(moderngl.DEPTH_TEST | moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        fbo.depth_mask = False  # translucent: tested against the boxes, hiding nothing
        try:
            self.vao.render(moderngl.TRIANGLES, vertices=VERTICES, instances=self.count)
        finally:
            fbo.depth_mask = True

    def _release_flows(self) -> None:
        for obj in (self.vao, self.positions, self.shapes, self.emph):
            if obj is not None:
                obj.release()
        self.vao = self.positions = self.shapes = self.emph = None
        self.flows, self.count = None, 0

    def release(self) -> None:
        self._release_flows()
        self.program.release()
