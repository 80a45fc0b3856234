"""GIF export streams (issue 12, item 3): frames are encoded and written as they arrive, so peak
memory does not grow with their number; the timing and the merging of identical frames stay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from llmviz_desktop.export.video import decode_video, export_frames, probe_frame_count

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_gif_memory.py"


def peak_growth_mib(frames: int) -> float:
    """Peak RSS growth of one GIF export of render-like 320x180 frames, in a fresh process."""
    r = subprocess.run(
        [sys.executable, str(BENCH), "--child", str(frames), "--size", "320x180"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout.strip().splitlines()[-1])
    return (m["peak_kib"] - m["before_kib"]) / 1024


def test_gif_export_memory_is_flat_in_the_number_of_frames():
    # collecting the frames first (Pillow's save_all) grew by ~57 KiB a frame here: +23 MiB
    # from 40 to 440 frames; streaming holds two frames whatever the count
    small, large = peak_growth_mib(40), peak_growth_mib(440)
    assert large - small < 6, (small, large)


def test_streamed_gif_merges_identical_frames_and_keeps_the_total_time(tmp_path):
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, (50, 3), dtype=np.uint8)
    a, b, c = (palette[rng.integers(0, 50, (24, 32))] for _ in range(3))
    b[:6] = a[:6]  # a frame that changes only part of the picture
    frames = [a, a, b, b, b, c, c]
    out = export_frames(iter(frames), tmp_path / "m.gif", 24, "gif", total=len(frames))
    with Image.open(out) as im:
        assert im.n_frames == 3 and im.info["loop"] == 0
        shown, durations = [], []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
            shown.append(np.asarray(im.convert("RGB")))
    assert np.array_equal(np.stack(shown), np.stack([a, b, c]))  # <= 256 colours: exact
    # 7 frames at 24 fps end at 29 cs: the delays keep i / fps, merged frames add theirs up
    assert durations == [80, 130, 80] and sum(durations) == round(7 * 100 / 24) * 10
    assert probe_frame_count(out) == 3
    assert np.array_equal(decode_video(out)[0], a)


def test_a_long_still_is_split_at_the_gif_delay_limit(tmp_path):
    still = np.full((8, 8, 3), 200, np.uint8)
    # 700 s of one picture at 1 fps: more than a GIF delay's 655.35 s
    out = export_frames([still] * 700, tmp_path / "s.gif", 1, "gif")
    with Image.open(out) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
            assert np.array_equal(np.asarray(im.convert("RGB")), still)
    assert sum(durations) == 700_000 and max(durations) <= 655_350
