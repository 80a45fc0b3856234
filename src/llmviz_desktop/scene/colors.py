"""How values map to colour strength: the |value| each tensor shows at full colour (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ColorSettings:
    symlog: bool = False  # symmetric-log instead of linear value -> colour
    symlog_range: float = 0.02  # fraction of the range kept linear around zero
    grid: float = 1.0  # gridline strength 0..1
    normalise: str = "tensor"  # "tensor": each tensor to its own range; "global": one range
    #                             per kind (weights, activations, aggregates) over the model


def normalisers(scene, matrices, mode: str) -> list[float]:
    """Per box: 1 / the |value| drawn at full colour. 'tensor' scales each tensor to itself;
    'global' uses one range per kind over the whole model (comparable across tensors, steady
    while training)."""
    if mode != "global":
        return [normaliser(m) if m is not None else 1.0 for m in matrices]
    by_kind: dict[str, list[np.ndarray]] = {}
    for box, m in zip(scene.boxes, matrices, strict=True):
        if m is not None:
            by_kind.setdefault(box.kind, []).append(m.reshape(-1))
    shared = {k: normaliser(np.concatenate(v)) for k, v in by_kind.items()}
    return [shared.get(box.kind, 1.0) for box in scene.boxes]


def normaliser(m: np.ndarray) -> float:
    """1 / the value that maps to full colour: the 99th percentile of |v| rather than the
    maximum, so one outlier does not leave the rest of the tensor near black (larger values
    saturate)."""
    finite = np.abs(m[np.isfinite(m)])
    if not finite.size:
        return 1.0
    peak = float(np.percentile(finite, 99)) if finite.size >= 100 else float(finite.max())
    return 1.0 / peak if peak > 0 else 1.0


def legend_from(scene, norms: list[float], has_values: list[bool]) -> dict[str, float]:
    """{kind: median |value| at full colour} from the normalisers the renderer used."""
    out: dict[str, list[float]] = {}
    for box, n, present in zip(scene.boxes, norms, has_values, strict=True):
        if present and box.kind != "token":
            out.setdefault(box.kind, []).append(1.0 / n)
    return {k: float(np.median(v)) for k, v in out.items()}
