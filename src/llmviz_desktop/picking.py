"""Ray against tensor boxes on the CPU (vectorised slab test over every box's bounds)."""

from __future__ import annotations

import numpy as np


def box_aabbs(scene) -> tuple[np.ndarray, np.ndarray]:
    """[N, 3] min and max corners of every box (layout origin = top-left-front corner);
    cached on the scene object, which never changes once built."""
    cached = getattr(scene, "_aabbs", None)
    if cached is None:
        origin = np.array([b.origin for b in scene.boxes], float).reshape(-1, 3)
        size = np.array([b.size for b in scene.boxes], float).reshape(-1, 3)
        lo = origin - size * np.array([0.0, 1.0, 1.0])
        hi = origin + size * np.array([1.0, 0.0, 0.0])
        cached = (lo, hi)
        try:
            object.__setattr__(scene, "_aabbs", cached)
        except (AttributeError, TypeError):
            pass
    return cached


def pick_box(scene, origin: np.ndarray, direction: np.ndarray):
    """Nearest box hit by the ray: (index, hit point, distance) or None."""
    lo, hi = box_aabbs(scene)
    if len(lo) == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / direction
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t1 = np.nan_to_num(t1, nan=-np.inf)
    t2 = np.nan_to_num(t2, nan=np.inf)
    near = np.minimum(t1, t2).max(axis=1)
    far = np.maximum(t1, t2).min(axis=1)
    hit = (near <= far) & (far > 0)
    if not hit.any():
        return None
    t = np.where(hit, np.maximum(near, 0.0), np.inf)
    i = int(np.argmin(t))
    return i, origin + direction * t[i], float(t[i])
