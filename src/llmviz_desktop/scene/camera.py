"""Orbit camera maths (pure numpy + pyrr): pan that keeps the grabbed point under the cursor,
orbit that never flips over the poles, zoom toward the cursor, framing, and fly-to animation.

Matrices here are the mathematical ones (column vectors: clip = P @ V @ p). pyrr builds the
transposed (row-vector) form, so its results are transposed once on the way in. Screen
coordinates are pixels with the origin at the top-left, y down.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np
from pyrr import matrix44

PITCH_LIMIT = 89.0  # degrees; the camera never reaches a pole, so it never flips
MIN_DISTANCE = 1e-2


class CameraError(ValueError):
    """A camera description that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Camera:
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the point orbited around
    distance: float = 100.0  # eye to target
    yaw: float = 0.0  # degrees about +y; 0 looks down -z (front view)
    pitch: float = 0.0  # degrees; positive looks down on the scene
    fov: float = 40.0  # vertical field of view, degrees

    # ---- derived vectors and matrices ------------------------------------------------------

    def forward(self) -> np.ndarray:
        """Unit vector from eye to target."""
        y, p = math.radians(self.yaw), math.radians(self.pitch)
        return np.array([math.sin(y) * math.cos(p), -math.sin(p), -math.cos(y) * math.cos(p)])

    def right(self) -> np.ndarray:
        y = math.radians(self.yaw)
        return np.array([math.cos(y), 0.0, math.sin(y)])

    def up(self) -> np.ndarray:
        y, p = math.radians(self.yaw), math.radians(self.pitch)
        # cross(right, forward), written out: np.cross is slow for one 3-vector
        return np.array([math.sin(y) * math.sin(p), math.cos(p), -math.cos(y) * math.sin(p)])

    def eye(self) -> np.ndarray:
        return np.asarray(self.target, float) - self.forward() * self.distance

    def clip_planes(self, scene_radius: float = 0.0) -> tuple[float, float]:
        near = max(self.distance * 0.02, 1e-3)
        far = self.distance * 4.0 + 4.0 * scene_radius + 10.0
        return near, far

    def view(self) -> np.ndarray:
        return matrix44.create_look_at(self.eye(), np.asarray(self.target, float), self.up()).T

    def projection(self, aspect: float, scene_radius: float = 0.0) -> np.ndarray:
        near, far = self.clip_planes(scene_radius)
        return matrix44.create_perspective_projection(self.fov, aspect, near, far).T

    def view_projection(self, width: int, height: int, scene_radius: float = 0.0) -> np.ndarray:
        return self.projection(width / max(height, 1), scene_radius) @ self.view()

    def world_per_pixel(self, height: int, depth: float | None = None) -> float:
        """World units spanned by one pixel at `depth` along the view axis (default: target)."""
        d = self.distance if depth is None else depth
        return 2.0 * d * math.tan(math.radians(self.fov) / 2.0) / max(height, 1)

    # ---- screen <-> world --------------------------------------------------------------------

    def ray(self, x: float, y: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Eye position and unit direction through pixel (x, y) (pixel centres at +0.5)."""
        t = math.tan(math.radians(self.fov) / 2.0)
        ndc_x = (2.0 * x / width - 1.0) * t * width / height
        ndc_y = (1.0 - 2.0 * y / height) * t
        d = self.forward() + ndc_x * self.right() + ndc_y * self.up()
        return self.eye(), d / np.linalg.norm(d)

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """World points [N, 3] -> [N, 3]: pixel x, pixel y, depth along the view axis."""
        f, r, u = self.forward(), self.right(), self.up()
        eye = np.asarray(self.target, float) - f * self.distance
        pts = np.atleast_2d(np.asarray(points, float)) - eye
        depth = pts @ f
        t = math.tan(math.radians(self.fov) / 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sx = (pts @ r) / (depth * t * width / height)
            sy = (pts @ u) / (depth * t)
        return np.stack([(sx + 1) * width / 2, (1 - sy) * height / 2, depth], axis=-1)

    def point_on_target_plane(self, x: float, y: float, width: int, height: int) -> np.ndarray:
        """Where the ray through a pixel meets the plane through the target facing the eye."""
        eye, d = self.ray(x, y, width, height)
        return eye + d * (self.distance / float(d @ self.forward()))

    # ---- interaction -----------------------------------------------------------------------

    def panned(self, dx: float, dy: float, height: int, depth: float | None = None) -> Camera:
        """Move by a drag of (dx, dy) pixels so a point at `depth` (default: the target plane)
        stays under the cursor."""
        s = self.world_per_pixel(height, depth)
        shift = -self.right() * dx * s + self.up() * dy * s
        return replace(self, target=tuple(np.asarray(self.target) + shift))

    def orbited(self, dx: float, dy: float, degrees_per_pixel: float = 0.3) -> Camera:
        pitch = float(np.clip(self.pitch + dy * degrees_per_pixel, -PITCH_LIMIT, PITCH_LIMIT))
        yaw = (self.yaw + dx * degrees_per_pixel + 180.0) % 360.0 - 180.0
        return replace(self, yaw=yaw, pitch=pitch)

    def zoomed(self, factor: float, anchor: np.ndarray | None = None) -> Camera:
        """Scale the distance by `factor` (< 1 zooms in) about a world point `anchor` that keeps
        its place on screen (e.g. the point under the cursor)."""
        new_distance = max(self.distance * factor, MIN_DISTANCE)
        factor = new_distance / self.distance
        target = np.asarray(self.target, float)
        if anchor is not None:
            target = anchor + (target - anchor) * factor
        return replace(self, target=tuple(target), distance=new_distance)

    def framing(self, lo, hi, width: int, height: int, margin: float = 1.1) -> Camera:
        """Same direction, target and distance chosen so the box [lo, hi] fills the view."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        corners = centre + half * np.array(
            [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
        )
        rel = corners - centre
        t_y = math.tan(math.radians(self.fov) / 2)
        t_x = t_y * width / max(height, 1)
        cam = replace(self, target=tuple(centre))
        r, u, f = cam.right(), cam.up(), cam.forward()
        need = 0.0
        for c in rel:  # distance at which each corner fits inside the frustum
            depth_offset = c @ f
            need = max(need, abs(c @ r) / t_x - depth_offset, abs(c @ u) / t_y - depth_offset)
        return replace(cam, distance=max(need * margin, MIN_DISTANCE))

    # ---- (de)serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "target": [float(v) for v in self.target],
            "distance": float(self.distance),
            "yaw": float(self.yaw),
            "pitch": float(self.pitch),
            "fov": float(self.fov),
        }

    @classmethod
    def from_dict(cls, d: object) -> Camera:
        if not isinstance(d, dict):
            raise CameraError("camera must be a JSON object")
        unknown = set(d) - {"target", "distance", "yaw", "pitch", "fov"}
        if unknown:
            raise CameraError(f"unknown camera field {sorted(unknown)[0]!r}")
        kwargs: dict = {}
        if "target" in d:
            t = d["target"]
            if not (isinstance(t, list) and len(t) == 3 and all(_finite(v) for v in t)):
                raise CameraError("camera field 'target' must be a list of 3 numbers")
            kwargs["target"] = tuple(float(v) for v in t)
        for key in ("distance", "yaw", "pitch", "fov"):
            if key in d:
                if not _finite(d[key]):
                    raise CameraError(f"camera field {key!r} must be a number")
                kwargs[key] = float(d[key])
        cam = cls(**kwargs)
        if cam.distance <= 0:
            raise CameraError("camera field 'distance' must be > 0")
        if not 1 <= cam.fov <= 170:
            raise CameraError("camera field 'fov' must be between 1 and 170 degrees")
        return replace(cam, pitch=float(np.clip(cam.pitch, -PITCH_LIMIT, PITCH_LIMIT)))

    @classmethod
    def from_json(cls, text: str) -> Camera:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise CameraError(f"camera JSON invalid at column {e.colno}: {e.msg}") from None


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def smoothstep(t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return t * t * (3 - 2 * t)


FLY_BACK_AWAY = 0.9  # mid-flight, at least this far back per unit of the target's travel


def fly(start: Camera, end: Camera, t: float) -> Camera:
    """The camera at progress t of an animated move: eased, distance interpolated in log space
    (so zooming feels uniform), yaw the short way round. fly(a, b, 0) == a, fly(a, b, 1) == b.
    A move across more than the views' own size also backs away on the way (zoom out, pan,
    zoom in), so it never passes close to the boxes in between."""
    if t <= 0:
        return start
    if t >= 1:
        return end
    s = smoothstep(t)
    target = np.asarray(start.target) + (np.asarray(end.target) - np.asarray(start.target)) * s
    distance = math.exp(math.log(start.distance) * (1 - s) + math.log(end.distance) * s)
    travel = float(np.linalg.norm(np.asarray(end.target) - np.asarray(start.target)))
    distance = max(distance, FLY_BACK_AWAY * travel * math.sin(math.pi * s))
    dyaw = (end.yaw - start.yaw + 180.0) % 360.0 - 180.0
    return Camera(
        target=tuple(target),
        distance=distance,
        yaw=start.yaw + dyaw * s,
        pitch=start.pitch + (end.pitch - start.pitch) * s,
        fov=start.fov + (end.fov - start.fov) * s,
    )
