"""Data flow in 3D (pure numpy): where each box's inputs come from, as paths between boxes.

    flows = build_flows(scene)           # once per scene (app.tick caches it on the scene)
    flows.paths[k].points                # float64 [n, 3] world polyline, ends on the boxes
    flows.joins                          # a "+" at every residual add, where its inputs meet
    flow_emphasis(flows, focus, sources) # float32 per path, then per join, 0..1

Everything comes from the boxes' positions and their declared inputs (model/activations.py),
never from their names, so the paths follow any layout.

What is drawn, per consumer box (weights read nothing):

* "residual": the stream input of a residual add (op RESIDUAL_ADD, role "stream") runs down a
  lane beside the boxes between, through the add's "+" join, into the add's side.
* "add": the branch input of a residual add (role "branch") into the join from above.
* "input": every other input that is not a weight. Where an input is also read by another
  input of the same box, the direct path is left out: a layer norm's x reaches mean, mean
  rstd and rstd out (x -> mean -> rstd -> out, one chain instead of six crossing lines); the
  softmax runs scores -> max -> expsum -> probs. Residual adds keep both their inputs.
* "weight": the weight matrix (or embedding table) of a product; biases and layer-norm gains
  sit beside their product and get no path.

Routing: paths are right-angled polylines. Flow between stacked boxes leaves the bottom face
and enters the top face (turning in the gap just above the consumer); side-by-side boxes are
joined face to face. Where the direct route would cut through a box, lanes beside the boxes
(in x, or in front in z) are tried and the route with the least length inside other boxes,
then the shortest, wins. Several paths on one face are spread across it so they run side by
side instead of on top of one another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.activations import Op
from .boxes import Scene

KINDS: tuple[str, ...] = ("residual", "add", "input", "weight")  # index = the shader's code
SKIP_ROLES = frozenset({"bias", "gain"})  # weights drawn beside their product: no path
INSIDE_COST = 100.0  # a unit of length inside another box costs this much length outside
BEND_COST = 0.5  # per bend, in gaps: of two equally clear routes the straighter wins


@dataclass(frozen=True)
class FlowPath:
    """One input of one box: a polyline from the reading box's source to it."""

    kind: str  # one of KINDS
    points: np.ndarray  # float64 [n >= 2, 3]: world coordinates, starts on the source box
    src: int  # box index of the input
    dst: int  # box index of the consumer
    join: int = -1  # >= 0: ends on that join's ring (a residual add's branch), not on dst


@dataclass(frozen=True)
class Join:
    """The "+" where a residual add's stream and branch meet, beside the add's box."""

    center: np.ndarray  # float64 [3], world
    radius: float  # world units
    box: int  # the residual add
    stream: int  # box index of its stream input
    branch: int  # box index of its branch input


@dataclass(frozen=True)
class Flows:
    paths: tuple[FlowPath, ...]
    joins: tuple[Join, ...]
    scale: np.ndarray  # float64 [paths + joins]: the local gap (world), for fading far away
    src: np.ndarray = field(init=False, repr=False)  # int64 [paths]: box index of each input
    dst: np.ndarray = field(init=False, repr=False)  # int64 [paths]: box index of its reader
    adds: np.ndarray = field(init=False, repr=False)  # int64 [joins]: each join's add box
    # int64 [joins, 2]: the stream and branch path of each join (-1: none)
    join_paths: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, values in (
            ("src", [p.src for p in self.paths]),
            ("dst", [p.dst for p in self.paths]),
            ("adds", [j.box for j in self.joins]),
        ):
            object.__setattr__(self, name, np.array(values, np.int64))
        stream = {p.dst: k for k, p in enumerate(self.paths) if p.kind == "residual"}
        branch = {p.join: k for k, p in enumerate(self.paths) if p.join >= 0}
        pairs = [(stream.get(j.box, -1), branch.get(n, -1)) for n, j in enumerate(self.joins)]
        object.__setattr__(self, "join_paths", np.array(pairs, np.int64).reshape(-1, 2))

    def __len__(self) -> int:
        return len(self.paths) + len(self.joins)


# ---- which inputs get a path -----------------------------------------------------------------


@dataclass(frozen=True)
class _Edge:
    kind: str
    src: int
    dst: int
    branch: int = -1  # residual: the add's branch box (drawn with its join)


def _edges(scene: Scene) -> list[_Edge]:
    boxes, index = scene.boxes, scene.index_of
    out: list[_Edge] = []
    for k, box in enumerate(boxes):
        if box.kind == "weight" or not box.inputs:
            continue
        reads: dict[int, str] = {}
        for role, name in box.inputs:
            i = index.get(name)
            if i is not None and i != k and i not in reads and role not in SKIP_ROLES:
                reads[i] = role
        roles = {role: i for i, role in reads.items()}
        if box.op == Op.RESIDUAL_ADD and "stream" in roles and "branch" in roles:
            stream, branch = roles["stream"], roles["branch"]
            out.append(_Edge("residual", stream, k, branch))
            out.append(_Edge("add", branch, k))
            continue
        values = [i for i in reads if boxes[i].kind != "weight"]
        read_by = {i: {r.name for r in boxes[i].inputs} for i in values}
        for i in reads:
            if boxes[i].kind == "weight":
                out.append(_Edge("weight", i, k))
                continue
            name = boxes[i].name
            if any(j != i and name in read_by[j] for j in values):
                continue  # reaches this box through another of its inputs (x -> mean -> out)
            out.append(_Edge("input", i, k))
    return out


# ---- geometry helpers ------------------------------------------------------------------------


class _World:
    """The boxes as arrays, and the queries the router asks of them. Each path asks only
    about the band of heights it spans (band()): a big model has thousands of boxes."""

    BLOCK = 64  # boxes per block of the height index

    def __init__(self, scene: Scene):
        aabb = scene.aabbs() if scene.boxes else np.zeros((0, 2, 3))
        self.box_lo, self.box_hi = aabb[:, 0], aabb[:, 1]  # every box, by box index
        self.lo, self.hi = self.box_lo, self.box_hi  # the obstacles asked about
        self.ids = np.arange(len(aabb))  # their box indices
        self.gap = float(scene.gap) if scene.gap > 0 else 1.0
        self.skip: set[int] = set()  # boxes a path may pass through (set per path)
        # height index: boxes sorted by their lowest y, and the highest top in each block
        self._order = np.argsort(self.box_lo[:, 1], kind="stable")
        self._bottoms = self.box_lo[self._order, 1]
        tops = np.full(-(-len(aabb) // self.BLOCK) * self.BLOCK, -np.inf)
        tops[: len(aabb)] = self.box_hi[self._order, 1]
        self._tops = tops
        self._block_top = tops.reshape(-1, self.BLOCK).max(axis=1, initial=-np.inf)

    def band(self, ylo: float, yhi: float) -> _World:
        """The same world with only the boxes reaching into heights (ylo, yhi) as obstacles."""
        end = int(np.searchsorted(self._bottoms, yhi, "left"))  # bottoms below yhi
        blocks = np.nonzero(self._block_top[: -(-end // self.BLOCK)] > ylo)[0]
        pos = (blocks[:, None] * self.BLOCK + np.arange(self.BLOCK)).ravel()
        pos = pos[pos < end]
        pos = pos[self._tops[pos] > ylo]
        sub = object.__new__(_World)
        sub.__dict__.update(self.__dict__)
        sub.ids = np.sort(self._order[pos])
        sub.lo, sub.hi = self.box_lo[sub.ids], self.box_hi[sub.ids]
        return sub

    def box(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.box_lo[k].copy(), self.box_hi[k].copy()

    def local_gap(self, *ks: int) -> float:
        """The layout's gap near these boxes: a box is about 1.5 gaps deep (scene/build.py),
        and a scene of several models has one gap per model, so read it off the boxes."""
        depth = min(float(self.box_hi[k, 2] - self.box_lo[k, 2]) for k in ks)
        return max(min(self.gap, depth / 1.5), 1e-6 * max(self.gap, 1.0))

    def near(self, lo: np.ndarray, hi: np.ndarray, exclude: Iterable[int]) -> np.ndarray:
        """Positions (in self.lo / self.hi) of obstacles overlapping the open region
        [lo, hi], leaving out the boxes `exclude` (box indices)."""
        m = np.all((self.lo < hi) & (self.hi > lo), axis=1)
        if m.any():
            for k in exclude:  # a handful: cheaper than np.isin
                m &= self.ids != k
        return np.nonzero(m)[0]

    def inside_length(self, pts: np.ndarray, exclude: Iterable[int]) -> float:
        """Total length of the polyline inside other boxes (slab test, all segments at once)."""
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        cand = self.near(lo - 1e-9, hi + 1e-9, exclude)
        if len(cand) == 0:
            return 0.0
        eps = 1e-6 * max(self.gap, 1.0)
        blo, bhi = self.lo[cand] + eps, self.hi[cand] - eps  # touching a face is not inside
        a, d = pts[:-1, None, :], np.diff(pts, axis=0)[:, None, :]  # [segments, 1, 3]
        moving = d != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            t0, t1 = (blo - a) / d, (bhi - a) / d  # [segments, boxes, 3]
        tmin = np.where(moving, np.minimum(t0, t1), -np.inf)
        tmax = np.where(moving, np.maximum(t0, t1), np.inf)
        # an axis the segment does not move along: inside only if it runs within the slab
        outside = (~moving & ((a <= blo) | (a >= bhi))).any(axis=2)
        enter = np.clip(tmin.max(axis=2), 0.0, 1.0)
        leave = np.clip(tmax.min(axis=2), 0.0, 1.0)
        span = np.where(outside, 0.0, np.maximum(leave - enter, 0.0))  # [segments, boxes]
        return float(span.sum(axis=1) @ np.linalg.norm(d[:, 0], axis=1))

    def clearance(self, k: int, axis: int, sign: int, limit: float) -> float:
        """Free distance from box k's face (axis, sign) to the next box over its footprint."""
        blo, bhi = self.box(k)
        lo, hi = blo.copy(), bhi.copy()
        if sign > 0:
            lo[axis], hi[axis] = bhi[axis], bhi[axis] + limit
        else:
            lo[axis], hi[axis] = blo[axis] - limit, blo[axis]
        cand = self.near(lo, hi, (k,))
        if len(cand) == 0:
            return limit
        if sign > 0:
            return float(max(self.lo[cand, axis].min() - bhi[axis], 0.0))
        return float(max(blo[axis] - self.hi[cand, axis].max(), 0.0))

    def lane(
        self,
        axis: int,
        start: float,
        sign: int,
        lo: np.ndarray,
        hi: np.ndarray,
        margin: float,
        exclude: Iterable[int],
    ) -> float:
        """The first coordinate along `axis` from `start` (going `sign`) where a line through
        the region [lo, hi] (that axis ignored) keeps `margin` from every box."""
        lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
        lo[axis], hi[axis] = -np.inf, np.inf
        cand = self.near(lo - margin, hi + margin, exclude)
        a, b = self.lo[cand, axis], self.hi[cand, axis]
        x = start
        for _ in range(len(cand) + 1):
            hit = (a - margin < x) & (b + margin > x)
            if not hit.any():
                break
            x = float(b[hit].max() + margin) if sign > 0 else float(a[hit].min() - margin)
        return x


def _clean(points: Sequence[Any]) -> np.ndarray:
    """Drop repeated points and the middle one of three collinear points (plain floats: numpy
    is slow on single 3-vectors, and this runs for every candidate route)."""
    pts: list[tuple[float, float, float]] = []
    for p in points:
        x, y, z = (float(v) for v in p)
        if pts:
            px, py, pz = pts[-1]
            tol = 1e-9 * (1.0 + max(abs(x), abs(y), abs(z)))
            if abs(x - px) <= tol and abs(y - py) <= tol and abs(z - pz) <= tol:
                continue
        if len(pts) >= 2:
            (ax, ay, az), (bx, by, bz) = pts[-2], pts[-1]
            u = (bx - ax, by - ay, bz - az)
            v = (x - bx, y - by, z - bz)
            cross = (
                (u[1] * v[2] - u[2] * v[1]) ** 2
                + (u[2] * v[0] - u[0] * v[2]) ** 2
                + (u[0] * v[1] - u[1] * v[0]) ** 2
            )
            nu = u[0] ** 2 + u[1] ** 2 + u[2] ** 2
            nv = v[0] ** 2 + v[1] ** 2 + v[2] ** 2
            dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
            if cross <= 1e-18 * nu * nv and dot > 0:
                pts[-1] = (x, y, z)  # straight on: the middle point adds nothing
                continue
        pts.append((x, y, z))
    if len(pts) == 1:
        pts.append(pts[0])
    return np.array(pts, float)


def _base_cost(pts: np.ndarray, gap: float) -> float:
    length = float(np.abs(np.diff(pts, axis=0)).sum())  # right-angled: the sum of the moves
    return length + max(len(pts) - 2, 0) * BEND_COST * gap


def _cost(world: _World, pts: np.ndarray, exclude: Iterable[int], gap: float) -> float:
    return world.inside_length(pts, exclude) * INSIDE_COST + _base_cost(pts, gap)


def _best(world: _World, routes: Sequence[Any], exclude: Iterable[int], gap: float):
    """(route, cost) of the cheapest route. Cheapest outside first: once the next one's
    length alone costs more than the best so far, the rest cannot win."""
    exclude = tuple(exclude)
    cleaned = [_clean(r) for r in routes]
    base = [_base_cost(r, gap) for r in cleaned]
    best, best_cost = cleaned[0], np.inf
    for n in np.argsort(base, kind="stable"):
        if base[n] >= best_cost:
            break
        cost = base[n] + world.inside_length(cleaned[n], exclude) * INSIDE_COST
        if cost < best_cost:
            best, best_cost = cleaned[n], cost
    return best, best_cost


# ---- routing ---------------------------------------------------------------------------------


def _relation(world: _World, s: int, d: int) -> tuple[int, int]:
    """(axis, sign) of the direction from box s to box d: 1 = y (flow down is sign -1), else
    the horizontal axis along which they are apart. (-1, 0): they overlap."""
    slo, shi = world.box(s)
    dlo, dhi = world.box(d)
    if dhi[1] <= slo[1]:
        return 1, -1
    if dlo[1] >= shi[1]:
        return 1, 1
    gaps = []
    for axis in (0, 2):
        if dlo[axis] >= shi[axis]:
            gaps.append((dlo[axis] - shi[axis], axis, 1))
        elif dhi[axis] <= slo[axis]:
            gaps.append((slo[axis] - dhi[axis], axis, -1))
    if not gaps:
        return -1, 0
    _, axis, sign = max(gaps)
    return axis, sign


def _face_point(world: _World, k: int, axis: int, sign: int, spread_axis: int, f: float):
    """A point on face (axis, sign) of box k, at fraction f along spread_axis, centred on the
    third axis."""
    lo, hi = world.box(k)
    p = (lo + hi) / 2
    p[axis] = hi[axis] if sign > 0 else lo[axis]
    p[spread_axis] = lo[spread_axis] + f * (hi[spread_axis] - lo[spread_axis])
    return p


def _route_vertical(world: _World, e: _Edge, sign: int, fs: float, fd: float) -> np.ndarray:
    """Stacked boxes: leave the source's bottom (top when flowing up), turn in the gap just
    before the consumer, enter its top; lanes beside or in front when that cuts a box."""
    s, d = e.src, e.dst
    g = world.local_gap(s, d)
    m = 0.25 * g
    a = _face_point(world, s, 1, sign, 0, fs)
    b = _face_point(world, d, 1, -sign, 0, fd)
    # turning levels: halfway across the gap after the source and before the consumer
    y1 = a[1] + sign * min(world.clearance(s, 1, sign, 4 * g) / 2, g)
    ym = b[1] - sign * min(world.clearance(d, 1, -sign, 4 * g) / 2, g)
    xs, zs, xd, zd = a[0], a[2], b[0], b[2]
    exclude = (s, d, *world.skip)
    if xs == xd and zs == zd:  # one above the other: straight down, if nothing is between
        line = np.array([a, b])
        if world.inside_length(line, exclude) == 0:
            return line
    P = np.array
    routes: list[Any] = [
        [a, P([xs, ym, zs]), P([xd, ym, zs]), P([xd, ym, zd]), b],
        [a, P([xs, ym, zs]), P([xs, ym, zd]), P([xd, ym, zd]), b],
        [a, P([xs, y1, zs]), P([xd, y1, zs]), P([xd, y1, zd]), b],
        [a, P([xs, y1, zs]), P([xs, y1, zd]), P([xd, y1, zd]), b],
    ]
    best, cost = _best(world, routes, exclude, g)
    if cost <= _base_cost(best, g):  # clear of every box
        return best
    # lanes: a vertical run beside the boxes in between (x to either side, or z in front)
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    lo[1], hi[1] = min(y1, ym), max(y1, ym)
    slo, shi = world.box(s)
    dlo, dhi = world.box(d)
    for axis, side in ((0, 1), (0, -1), (2, 1)):
        start = max(shi[axis], dhi[axis]) + m if side > 0 else min(slo[axis], dlo[axis]) - m
        band_lo, band_hi = lo.copy(), hi.copy()
        other = 2 - axis
        band_lo[other] = min(a[other], b[other]) - m
        band_hi[other] = max(a[other], b[other]) + m
        x = world.lane(axis, start, side, band_lo, band_hi, m, exclude)
        p1, p2 = a.copy(), b.copy()
        p1[1], p2[1] = y1, ym
        q1, q2 = p1.copy(), p2.copy()
        q1[axis], q2[axis] = x, x
        q2[other] = p1[other]  # down the lane beside the source, then across to the consumer
        mid = q2.copy()
        mid[0] = p2[0]
        routes.append(np.array([a, p1, q1, q2, mid, p2, b]))
    return _best(world, routes, exclude, g)[0]


def _route_side(world: _World, e: _Edge, axis: int, sign: int, f: float) -> np.ndarray:
    """Boxes side by side (overlapping in y): face to face at a shared height, straight when
    they line up, else with a step halfway between them."""
    s, d = e.src, e.dst
    g = world.local_gap(s, d)
    slo, shi = world.box(s)
    dlo, dhi = world.box(d)
    ylo, yhi = max(slo[1], dlo[1]), min(shi[1], dhi[1])
    y = yhi - f * (yhi - ylo)
    other = 2 - axis
    a = (slo + shi) / 2
    b = (dlo + dhi) / 2
    olo, ohi = max(slo[other], dlo[other]), min(shi[other], dhi[other])
    if olo < ohi:  # the faces overlap across: one straight line
        a[other] = b[other] = (olo + ohi) / 2
    a[1] = b[1] = y
    a[axis] = shi[axis] if sign > 0 else slo[axis]
    b[axis] = dlo[axis] if sign > 0 else dhi[axis]
    mid = (a[axis] + b[axis]) / 2
    p1, p2 = a.copy(), b.copy()
    p1[axis] = p2[axis] = mid
    routes = [np.array([a, p1, p2, b])]
    return _best(world, routes, (s, d, *world.skip), g)[0]


def _route_add(world: _World, e: _Edge) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A residual add A = stream + branch, drawn on the side of A with the cheaper routes:

        stream ─┐                 the stream hugs the boxes it skips (the nearest free lane
        branch ─┼──┐              beside them), swings out once past the branch's exit, and
                │  ↓              enters the "+" from the outside; the branch drops into it
        A ←────(+)─┘              from above; the sum goes on into A's side. No crossings.

    Returns (stream path, branch path, join centre, join radius)."""
    s, b, a = e.src, e.branch, e.dst
    g = world.local_gap(s, b, a)
    m = 0.25 * g
    alo, ahi = world.box(a)
    blo, bhi = world.box(b)
    slo, shi = world.box(s)
    r = g  # the join's radius: as wide as a gap, beside the add
    exclude = (s, b, a, *world.skip)
    best = None
    for side in (1, -1):
        edge = ahi[0] if side > 0 else alo[0]
        cx = edge + side * (m + r)
        cy = ahi[1] - min((ahi[1] - alo[1]) / 2, 1.5 * r)
        cz = (alo[2] + ahi[2]) / 2
        c = np.array([cx, cy, cz])
        # the branch: from its side near its bottom, over to the join, down into it
        by = blo[1] + min((bhi[1] - blo[1]) / 2, 1.5 * r)
        bz = (blo[2] + bhi[2]) / 2
        b0 = np.array([bhi[0] if side > 0 else blo[0], by, bz])
        branch = _clean([b0, [cx, by, bz], [cx, by, cz], [cx, cy + r, cz]])
        # the stream: out of its side near its bottom, down the nearest free lane to above
        # the branch's exit, out to a lane beyond the join, down, and into the join
        sy = slo[1] + min((shi[1] - slo[1]) / 2, 1.5 * r)
        sz = (slo[2] + shi[2]) / 2
        s0 = np.array([shi[0] if side > 0 else slo[0], sy, sz])
        jog = min(by + min((bhi[1] - by) / 2, 2 * r), sy)
        lo = np.array([0.0, min(jog, sy), min(sz, cz)])
        hi = np.array([0.0, max(jog, sy), max(sz, cz)])
        near = world.lane(0, s0[0] + side * m, side, lo, hi, m, exclude)
        lo[1], hi[1] = min(cy, jog), max(cy, jog)
        far = world.lane(0, cx + side * (r + 2 * m), side, lo, hi, m, exclude)
        far = max(far, near) if side > 0 else min(far, near)
        stream = _clean(
            [
                s0,
                [near, sy, sz],
                [near, jog, sz],
                [far, jog, sz],
                [far, cy, sz],
                [far, cy, cz],
                [edge, cy, cz],
            ]
        )
        ring = np.array([[cx - r, cy - r, cz - r], [cx + r, cy + r, cz + r]])
        cost = _cost(world, stream, exclude, g) + _cost(world, branch, exclude, g)
        cost += world.inside_length(ring, exclude) * INSIDE_COST
        if best is None or cost < best[0]:
            best = (cost, stream, branch, c)
    assert best is not None
    return best[1], best[2], best[3], r


def build_flows(scene: Scene) -> Flows:
    """The flow paths and joins of a scene (see the module notes)."""
    world = _World(scene)
    boxes = scene.boxes
    edges = _edges(scene)
    # spread paths that share a face across it, in the order of their other ends
    rel = {}
    for n, e in enumerate(edges):
        if e.kind != "residual":
            rel[n] = _relation(world, e.src, e.dst)
    exits: dict[tuple, list[int]] = defaultdict(list)
    entries: dict[tuple, list[int]] = defaultdict(list)
    for n, (axis, sign) in rel.items():
        if axis >= 0:
            e = edges[n]
            exits[(e.src, axis, sign)].append(n)
            entries[(e.dst, axis, -sign)].append(n)

    ranks: dict[tuple, dict[int, int]] = {}

    def fraction(groups, n: int, key: tuple, other) -> float:
        members = groups[key]
        if len(members) == 1:
            return 0.5
        if key not in ranks:
            spread = 0 if key[1] == 1 else 1  # across a top / bottom face: x, a side: y
            ends = {j: other(j) for j in members}
            order = sorted(members, key=lambda j: (ends[j][spread], ends[j][2 - spread], j))
            ranks[key] = {j: r for r, j in enumerate(order)}
        return (ranks[key][n] + 1) / (len(members) + 1)

    def centre(k: int) -> np.ndarray:
        return (world.box_lo[k] + world.box_hi[k]) / 2

    paths: list[FlowPath] = []
    joins: list[Join] = []
    scales: list[float] = []
    for n, e in enumerate(edges):
        if e.kind == "add":
            continue  # drawn with its residual
        # the obstacles: boxes within the heights this path spans, and a few gaps more
        ends = [k for k in (e.src, e.dst, e.branch) if k >= 0]
        pad = 8 * world.local_gap(*ends)
        local = world.band(
            min(world.box_lo[k, 1] for k in ends) - pad,
            max(world.box_hi[k, 1] for k in ends) + pad,
        )
        local.skip = {
            i
            for i in (scene.index_of.get(r.name) for r in boxes[e.dst].inputs)
            if i is not None and boxes[i].kind == "weight"
        }
        if e.kind == "residual":
            stream, branch, c, r = _route_add(local, e)
            j = len(joins)
            joins.append(Join(c, r, e.dst, e.src, e.branch))
            paths.append(FlowPath("residual", stream, e.src, e.dst))
            paths.append(FlowPath("add", branch, e.branch, e.dst, join=j))
            scales += [world.local_gap(e.src, e.dst)] * 2
            continue
        axis, sign = rel[n]
        if axis < 0:
            continue  # overlapping boxes: nothing sensible to draw
        fs = fraction(exits, n, (e.src, axis, sign), lambda j: centre(edges[j].dst))
        fd = fraction(entries, n, (e.dst, axis, -sign), lambda j: centre(edges[j].src))
        if axis == 1:
            pts = _route_vertical(local, e, sign, fs, fd)
        else:
            pts = _route_side(local, e, axis, sign, fd)
        paths.append(FlowPath(e.kind, pts, e.src, e.dst))
        scales.append(world.local_gap(e.src, e.dst))
    scales += [world.local_gap(j.box) for j in joins]
    return Flows(tuple(paths), tuple(joins), np.array(scales, float))


# ---- emphasis --------------------------------------------------------------------------------

INTO_FOCUS = 1.0  # a path into a box in focus (from one of its sources, if any are named)
AMONG = 0.6  # a path between two boxes that are both in focus or sources (x -> mean -> out)
OUT_OF_FOCUS = 0.35  # where a focused box's value goes next


def _member(boxes: Iterable[int], indices: np.ndarray) -> np.ndarray:
    return np.isin(indices, np.fromiter(boxes, np.int64))


def flow_emphasis(flows: Flows, focus: Iterable[int], sources: Iterable[int] = ()) -> np.ndarray:
    """float32 [paths + joins], 0..1: how much each path, then each join, is brightened.

    focus: the boxes the hover or the walkthrough is about (the hovered box, a step's
    highlighted boxes); sources: the boxes their numbers are computed from."""
    focus, sources = set(focus), set(sources)
    out = np.zeros(len(flows), np.float32)
    if not focus and not sources:
        return out
    named = focus | sources
    dst_focus = _member(focus, flows.dst)
    src_focus = _member(focus, flows.src)
    src_named, dst_named = _member(named, flows.src), _member(named, flows.dst)
    into = dst_focus & (src_named if sources else True)
    paths = np.where(
        into,
        INTO_FOCUS,
        np.where(src_named & dst_named, AMONG, np.where(src_focus, OUT_OF_FOCUS, 0.0)),
    )
    out[: len(flows.paths)] = paths
    # a join is as bright as the brighter of its stream and its branch (-1 reads the 0 after)
    padded = np.append(paths, 0.0)
    out[len(flows.paths) :] = padded[flows.join_paths].max(axis=1, initial=0.0)
    return out


def flow_opacity(flows: Flows, alpha: Mapping[int, float]) -> np.ndarray:
    """float32 [paths + joins]: a path is as opaque as the fainter of its two boxes (the
    walkthrough fades boxes out; their paths go with them), a join as its add."""
    out = np.ones(len(flows), np.float32)
    if not alpha:
        return out
    n = 1 + max(
        int(flows.src.max(initial=-1)),
        int(flows.dst.max(initial=-1)),
        int(flows.adds.max(initial=-1)),
        max(alpha),
    )
    per_box = np.ones(n, np.float32)
    per_box[np.fromiter(alpha.keys(), np.int64)] = np.fromiter(alpha.values(), np.float32)
    out[: len(flows.paths)] = np.minimum(per_box[flows.src], per_box[flows.dst])
    out[len(flows.paths) :] = per_box[flows.adds]
    return out
