"""`llmviz export-video`: a training run (checkpoints, interpolated) or the walkthrough, rendered
headless frame by frame and encoded; the file appears only when complete."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np


def checkpoint_step(replay, frame: int, fps: float, seconds_per_checkpoint: float) -> float:
    """The (fractional) training step shown at a frame: each checkpoint gets its seconds,
    moving linearly toward the next; the last one holds."""
    c = frame / fps / seconds_per_checkpoint
    i = min(int(math.floor(c)), len(replay.steps) - 1)
    if i >= len(replay.steps) - 1:
        return float(replay.steps[-1])
    a, b = replay.steps[i], replay.steps[i + 1]
    return a + (b - a) * (c - i)


FRAMES_MAX = 100_000  # frames in one export (55 minutes at 30 fps)

Frames = Callable[[Any], Iterator[np.ndarray]]  # HeadlessSession -> frames drawn with it


def training_frames(args, fail) -> tuple[Frames, int]:
    from ..scene.camera import CameraError
    from ..session.loaded import load_model, with_params
    from ..session.replay import ReplayError, open_replay
    from ..session.state import AppState
    from .render import camera_for

    try:
        replay = open_replay(args.checkpoints)
    except ReplayError as e:
        raise fail(str(e)) from None
    for warning in replay.warnings + replay.metrics_warnings:
        print(f"llmviz: warning: {warning}")
    base = load_model(str(replay.checkpoints[0].path))
    w, h = args.size
    try:
        camera = camera_for(args.camera, base.scene, w, h, panels=False)
    except CameraError as e:
        raise fail(str(e)) from None
    state = AppState.create(base, camera, width=w, height=h)
    state.view.show_ui = False
    state.view.colors.normalise = args.normalise
    total = round(len(replay.steps) * args.seconds_per_checkpoint * args.fps)
    _check_total(total, f"{len(replay.steps)} checkpoints x --seconds-per-checkpoint", args, fail)

    def frames(session) -> Iterator[np.ndarray]:
        for f in range(total):
            step = checkpoint_step(replay, f, args.fps, args.seconds_per_checkpoint)
            model = state.home = with_params(base, replay.params_at(step))
            m = replay.metrics_at(step)
            loss = f" · loss {m['loss']:.4f}" if m and "loss" in m else ""
            state.view.hud = (
                f"training step {step:,.0f}{loss} · {model.input_text} -> {model.output_text}"
            )
            yield session.render(state)[:, :, :3]

    return frames, total


def walkthrough_frames(args, fail) -> tuple[Frames, int]:
    from ..scene.framing import camera_preset
    from ..session.loaded import load_model
    from ..session.state import AppState
    from ..walkthrough.chapters import load_chapters
    from ..walkthrough.player import Player

    chapters = load_chapters()
    for err in chapters.errors:
        print(f"llmviz: warning: skipped {err}")
    ids = [c.id for c in chapters.chapters]
    if args.chapter is not None and args.chapter not in ids:
        raise fail(f"--chapter {args.chapter!r}: no such chapter (chapters: {', '.join(ids)})")
    chosen = [ids.index(args.chapter)] if args.chapter else list(range(len(ids)))
    model = load_model("nano-sort")
    w, h = args.size
    state = AppState.create(model, camera_preset("overview", model.scene, w, h), width=w, height=h)
    state.view.show_stats = False
    player = Player(chapters, active=True)
    state.controllers.player = player
    counts = [round(chapters.chapters[i].duration * args.fps) for i in chosen]
    seconds = sum(chapters.chapters[i].duration for i in chosen)
    _check_total(sum(counts), f"the walkthrough's {seconds:.0f} s", args, fail)

    def frames(session) -> Iterator[np.ndarray]:
        for index, n in zip(chosen, counts, strict=True):
            player.set_chapter(index)
            for f in range(n):
                player.seek(f / args.fps)  # the frame is a function of the position: no dt
                yield session.render(state)[:, :, :3]

    return frames, sum(counts)


def _check_total(total: int, length: str, args, fail) -> None:
    """The number of frames (length x --fps) within 1..FRAMES_MAX, before anything is drawn."""
    if not 1 <= total <= FRAMES_MAX:
        raise fail(
            f"--fps {args.fps:g}: {length} at {args.fps:g} fps make {total:,} frames; expected "
            f"1 to {FRAMES_MAX:,} (lower --fps or --seconds-per-checkpoint)"
        )


def run_export(args: argparse.Namespace, fail) -> int:
    from tqdm import tqdm

    from ..app.headless import HeadlessSession
    from ..export.video import GIF_MAX_FPS, ExportError, codec_for, export_frames
    from ..render.context import GLUnavailable

    if (args.checkpoints is None) == (not args.walkthrough):
        raise fail("give either --checkpoints DIR or --walkthrough")
    out: Path = args.out
    try:
        codec = codec_for(out, args.codec)
    except ExportError as e:
        raise fail(str(e)) from None
    if not out.parent.is_dir():
        raise fail(f"--out {out}: directory {out.parent} does not exist")
    if codec == "gif" and args.fps > GIF_MAX_FPS:
        raise fail(
            f"--fps {args.fps:g}: a GIF plays at most {GIF_MAX_FPS:g} fps; expected 0.1 to 50"
        )
    source = walkthrough_frames if args.walkthrough else training_frames
    frames, total = source(args, fail)  # refusals before any drawing or progress bar
    try:
        session = HeadlessSession(*args.size)
    except GLUnavailable as e:
        raise fail(str(e)) from None
    try:
        with tqdm(total=total, desc=f"exporting {out.name}", unit="frame") as bar:
            export_frames(
                frames(session),
                out,
                args.fps,
                codec,
                total=total,
                progress=lambda n: bar.update(1),
            )
    except ExportError as e:
        raise fail(str(e)) from None
    finally:
        session.release()
    print(f"wrote {out} ({total} frames at {args.fps:g} fps, {codec})")
    return 0
