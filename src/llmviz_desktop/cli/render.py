"""`llmviz render`: draw exactly what the window shows into a PNG, headless through EGL."""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import numpy as np

from ..model.atomic import atomic_write

MAX_SIDE = 8192


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1280x720, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"each side must be 16..{MAX_SIDE} pixels, got {w}x{h}")
    return w, h


# --camera JSON ranges, relative to the model's extent (the diagonal of its scene bounds): the
# presets put the camera up to ~190 extents away (a 16x8192 image) and the target up to ~11
# extents outside the model; beyond these ranges a picture is blank or loses float precision
CAMERA_DISTANCE_EXTENTS = 1000.0
CAMERA_TARGET_EXTENTS = 100.0
CAMERA_YAW_LIMIT = 360.0  # degrees either way
CAMERA_PITCH_LIMIT = 90.0  # degrees either way (drawn clipped to 89)


def camera_for(text: str, scene, width: int, height: int, panels: bool = True):
    """The camera a --camera value asks for (a preset, or JSON with every number in a range
    that depends on the model's size); CameraError names the field and the range."""
    from ..scene.camera import MIN_DISTANCE, CameraError
    from ..scene.framing import parse_camera

    try:
        camera = parse_camera(text, scene, width, height, panels)
    except CameraError as e:
        raise CameraError(f"--camera: {e}") from None
    if not text.strip().startswith("{"):
        return camera  # a preset frames the model
    raw = json.loads(text)  # valid: parse_camera read it
    lo, hi = (np.asarray(b, float) for b in scene.bounds)
    extent = max(float(np.linalg.norm(hi - lo)), 1.0)

    def refuse(field: str, value, expected: str) -> CameraError:
        return CameraError(f"--camera: {field} {value} is out of range; expected {expected}")

    far = CAMERA_DISTANCE_EXTENTS * extent
    if "distance" in raw and not MIN_DISTANCE <= raw["distance"] <= far:
        expected = (
            f"{MIN_DISTANCE:g} to {far:.4g} ({CAMERA_DISTANCE_EXTENTS:g} x the model's extent "
            f"of {extent:,.0f})"
        )
        raise refuse("distance", f"{raw['distance']:g}", expected)
    if "target" in raw:
        margin = CAMERA_TARGET_EXTENTS * extent
        t0, t1 = lo - margin, hi + margin
        t = np.asarray(raw["target"], float)
        if not ((t0 <= t) & (t <= t1)).all():
            box = ", ".join(f"{a:.4g}..{b:.4g}" for a, b in zip(t0, t1, strict=True))
            shown = "[" + ", ".join(f"{v:g}" for v in t) + "]"
            raise refuse(
                "target",
                shown,
                f"x, y, z within {box} (the model's bounds widened by "
                f"{CAMERA_TARGET_EXTENTS:g} x its extent of {extent:,.0f})",
            )
    for field, limit in (("yaw", CAMERA_YAW_LIMIT), ("pitch", CAMERA_PITCH_LIMIT)):
        if field in raw and not -limit <= raw[field] <= limit:
            raise refuse(field, f"{raw[field]:g}", f"-{limit:g} to {limit:g} degrees")
    return camera


def screen_boxes(scene, camera, width: int, height: int) -> dict[str, list[float]]:
    """{name: [x0, y0, x1, y1]} of every box whose projected bounds (the 8 corners, in front
    of the eye) meet the image, clipped to it; pixels, y down."""
    from ..scene.labels import box_corners

    corners = box_corners(scene)  # [N, 8, 3]
    proj = camera.project(corners.reshape(-1, 3), width, height).reshape(-1, 8, 3)
    in_front = (proj[..., 2] > 0).all(axis=1)
    x0, x1 = proj[..., 0].min(axis=1), proj[..., 0].max(axis=1)
    y0, y1 = proj[..., 1].min(axis=1), proj[..., 1].max(axis=1)
    seen = in_front & (x1 >= 0) & (x0 <= width) & (y1 >= 0) & (y0 <= height)
    out = {}
    for k in np.flatnonzero(seen):
        out[scene.boxes[k].name] = [
            float(np.clip(x0[k], 0, width)),
            float(np.clip(y0[k], 0, height)),
            float(np.clip(x1[k], 0, width)),
            float(np.clip(y1[k], 0, height)),
        ]
    return out


def models_drawn(model) -> list[str]:
    """The names of the models in the scene: one, or each of a scale scene's."""
    return list(getattr(model.scene, "models", ()) or (model.name,))


def hover_report(state) -> dict | None:
    """The hovered cell for --report: tensor, cell, index, value and formula (or None)."""
    info = state.hover
    if info is None:
        return None
    ex = info.explanation

    def num(v):
        return None if v is None else (str(v) if not np.isfinite(v) else float(v))

    return {
        "tensor": ex.box,
        "title": ex.title,
        "kind": ex.kind,
        "cell": list(ex.cell),
        "index": [int(k) for k in ex.index],
        "index_text": ex.index_text,
        "value": num(ex.value),
        "operation": ex.operation,
        "formula": ex.formula,
        "lines": list(ex.lines),
        "recomputed": num(ex.recomputed),
        "sources": [s.box for s in ex.sources],
    }


def _walk_to(state, args, fail) -> None:
    """Place the player at --chapter/--step/--progress (the tick shows that moment)."""
    from ..walkthrough.chapters import load_chapters
    from ..walkthrough.player import Player

    chapters = load_chapters()
    ids = [c.id for c in chapters.chapters]
    if args.chapter not in ids:
        known = ", ".join(ids) or "none"
        raise fail(f"--chapter {args.chapter!r}: no such chapter (chapters: {known})")
    player = Player(chapters, chapter_index=ids.index(args.chapter), active=True)
    n = len(player.chapter.steps)
    if args.step > n:
        raise fail(f"--step {args.step}: chapter {args.chapter!r} has {n} steps")
    player.goto_step(args.step - 1, args.progress)
    state.controllers.player = player


def walk_report(state, frame) -> dict:
    from ..walkthrough.text import fill

    player, walk = state.controllers.player, frame.walk
    step = player.chapter.steps[walk.step]
    names = [b.name for b in frame.model.scene.boxes]
    return {
        "chapter": player.chapter.id,
        "chapter_title": player.chapter.title,
        "step": walk.step + 1,
        "steps": len(player.chapter.steps),
        "title": step.title,
        "progress": walk.progress,
        "text": fill(step.text, frame.model, walk.t),
        "highlighted": [names[k] for k in sorted(walk.highlight)],
        "cells": [names[c[0]] for c in walk.cells],
        "caption": walk.caption,
        "output_tokens": output_row(frame),
        "t": walk.t,
        "subject": subject_report(state, frame),
    }


def subject_report(state, frame) -> dict:
    """The step's subject (its highlighted boxes that are drawn) and how the camera frames it
    in the free area (scene/subject.py: span, largest tensor, part inside)."""
    from ..scene.subject import measure_subject, subject_boxes

    v, walk = state.view, frame.walk
    boxes = subject_boxes(walk.highlight, walk.alpha)
    x0, y0, x1, y1 = (float(x) for x in frame.free_area)
    free = (x0, y0, x1, y1)
    return measure_subject(frame.model.scene, v.camera, v.width, v.height, free, boxes).to_dict()


def output_row(frame) -> str | None:
    """The output token row as drawn now: predicted tokens of the computed positions."""
    model = frame.model
    if model.trace is None or model.config.vocab is None:
        return None
    out = model.scene.by_name.get("output_tokens")
    if out is None:
        return None
    k = model.scene.index_of[out.name]
    fraction = frame.walk.reveal.get(k, (1.0, 0))[0] if frame.walk else 1.0
    shown = int(round(fraction * out.cols))
    pred = model.trace["probs"][0].argmax(-1)
    return "".join(model.config.vocab[int(v)] for v in pred[:shown])


def title_report(state, frame) -> dict | None:
    """A tensor title under the cursor: its shape and parameter (or value) count."""
    box = frame.model.scene.by_name.get(state.pointer.title_hover or "")
    if box is None:
        return None
    return {
        "tensor": box.name,
        "title": box.title,
        "shape": [box.rows, box.cols],
        "axes": [box.row_axis, box.col_axis],
        "count": box.rows * box.cols,
        "kind": box.kind,
    }


def run_render(args: argparse.Namespace, fail) -> int:
    from PIL import Image

    from ..app.headless import HeadlessSession
    from ..model.config import ConfigError
    from ..model.tokenizer import TokenizerError
    from ..model.weights import WeightsError
    from ..render.context import GLUnavailable
    from ..render.shader_source import ShaderSourceError
    from ..scene.camera import CameraError
    from ..session.loaded import load_model
    from ..session.state import AppState

    out: Path = args.out
    if out.suffix.lower() != ".png":
        raise fail(f"--out {out}: expected a .png file name")
    if not out.parent.is_dir():
        raise fail(f"--out {out}: directory {out.parent} does not exist")
    width, height = args.size
    hover = getattr(args, "hover", None)
    if hover is not None and not (0 <= hover[0] < width and 0 <= hover[1] < height):
        raise fail(f"--hover {hover[0]:g},{hover[1]:g} lies outside the {width}x{height} image")
    if args.input is not None and args.input == "":
        raise fail("--input is empty; give at least one token, e.g. CBABBC")
    try:
        model = load_model(args.model, args.input)
        camera = camera_for(args.camera, model.scene, width, height)
    except (WeightsError, ConfigError, CameraError, TokenizerError) as e:
        raise fail(str(e)) from None
    try:
        session = HeadlessSession(width, height)
    except (GLUnavailable, ShaderSourceError) as e:
        raise fail(str(e)) from None
    try:
        state = AppState.create(model, camera, width=width, height=height)
        state.view.show_help = args.help_overlay
        state.pointer.mouse = hover
        if args.chapter is not None:
            _walk_to(state, args, fail)
        times = []
        for _ in range(args.frames):
            image = session.render(state)
            times.append(state.stats.frame_ms)  # the last frame drawn, GPU work included
        try:
            atomic_write(out, lambda tmp: Image.fromarray(image, "RGBA").save(tmp, "PNG"))
        except OSError as e:  # e.g. a full disk: the previous file is left intact
            raise fail(f"--out {out}: cannot write ({e.strerror or e})") from None
        if args.report:
            report = {
                "model": model.name,
                "input": model.input_text,
                "output": model.output_text,
                "size": [width, height],
                "camera": camera.to_dict(),
                "boxes": len(model.scene.boxes),
                "frames": len(times),
                "frame_ms": {
                    "mean": statistics.fmean(times),
                    "median": statistics.median(times),
                    "min": min(times),
                    "max": max(times),
                },
                "renderer": session.ctx.info.get("GL_RENDERER", ""),
            }
            frame = session.last
            assert frame is not None
            shown = frame.model
            report["free_area"] = [float(v) for v in frame.free_area]
            report["screen_boxes"] = screen_boxes(shown.scene, state.view.camera, width, height)
            report["models"] = models_drawn(shown)
            report["visible_tensors"] = list(report["screen_boxes"])
            if frame.walk is not None:
                report["walkthrough"] = walk_report(state, frame)
                report["camera"] = state.view.camera.to_dict()
                report["model"] = frame.model.name
            if hover is not None:
                report["hover"] = hover_report(frame)
                report["title_hover"] = title_report(state, frame)
            try:
                atomic_write(
                    args.report, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2))
                )
            except OSError as e:
                raise fail(f"--report {args.report}: cannot write ({e.strerror or e})") from None
    finally:
        session.release()
    return 0
