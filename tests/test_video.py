"""Video export (llmviz_desktop.export.video): lossless round trips, frame counts, lossy codecs,
GIF timing, and atomicity when the source, ffmpeg or the disk fails."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from llmviz_desktop.export import video
from llmviz_desktop.export.video import (
    CODECS,
    ExportError,
    codec_for,
    decode_video,
    export_frames,
    probe_frame_count,
)

H, W = 96, 160
FPS = 12.0
DURATION_S = 2.0
N = int(DURATION_S * FPS)  # 24
SUFFIX = {"ffv1": ".mkv", "x264rgb": ".mkv", "mp4": ".mp4", "gif": ".gif", "png": ""}
# Big flat saturated blocks (x0, y0, colour) whose interior survives 4:2:0 chroma subsampling.
BLOCKS = [(96, 0, (255, 0, 0)), (128, 0, (0, 255, 0)), (96, 32, (0, 0, 255)),
          (128, 32, (255, 255, 0)), (96, 64, (255, 0, 255)), (128, 64, (0, 255, 255))]  # fmt: skip


def synth_frames(n: int = N, h: int = H, w: int = W, seed: int = 0) -> list[np.ndarray]:
    """Moving gradients, seeded noise, a 1-pixel checkerboard, sharp saturated blocks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = (x * 255 // max(w - 1, 1) + 7 * i) % 256
        f[..., 1] = (y * 255 // max(h - 1, 1) + 3 * i) % 256
        f[..., 2] = ((x + y + 11 * i) * 2) % 256
        f[: h // 3, : w // 4] = rng.integers(0, 256, (h // 3, w // 4, 3), dtype=np.uint8)
        f[h // 2 : h // 2 + 16, : w // 4] = ((x[:16, : w // 4] + y[:16, : w // 4]) % 2 * 255)[
            ..., None
        ]
        for x0, y0, colour in BLOCKS:
            if x0 + 32 <= w and y0 + 32 <= h:
                f[y0 : y0 + 32, x0 : x0 + 32] = colour
        frames.append(f)
    return frames


FRAMES = synth_frames()
STACK = np.stack(FRAMES)


def target(tmp_path: Path, codec: str, name: str = "out") -> Path:
    return tmp_path / (name + SUFFIX[codec])


def fail_after(frames, exc: BaseException, after: int = 5):
    for i, f in enumerate(frames):
        if i == after:
            raise exc
        yield f


# ---------------------------------------------------------------------------- codec_for


@pytest.mark.parametrize(
    "name, codec, expected",
    [
        ("a.mkv", None, "ffv1"),
        ("a.MKV", None, "ffv1"),
        ("a.mkv", "ffv1", "ffv1"),
        ("a.mkv", "x264rgb", "x264rgb"),
        ("a.mp4", None, "mp4"),
        ("a.gif", None, "gif"),
        ("frames", None, "png"),
        ("frames", "png", "png"),
        ("frames.v2", "png", "png"),
    ],
)
def test_codec_for_defaults_and_agreement(tmp_path, name, codec, expected):
    assert codec_for(tmp_path / name, codec) == expected


@pytest.mark.parametrize(
    "name, codec",
    [
        ("a.gif", "mp4"),
        ("a.mp4", "ffv1"),
        ("a.mp4", "x264rgb"),
        ("a.mkv", "gif"),
        ("a.mkv", "png"),
        ("a.png", "png"),
        ("frames", "mp4"),
        ("a.avi", None),
        ("a.png", None),
        ("a.mkv", "h265"),
    ],
)
def test_codec_for_contradictions_are_export_errors(tmp_path, name, codec):
    with pytest.raises(ExportError, match=r"a\.|frames"):
        codec_for(tmp_path / name, codec)


def test_codec_for_existing_folder_means_png(tmp_path):
    folder = tmp_path / "shots.mkv"
    folder.mkdir()
    assert codec_for(folder, None) == "png"
    with pytest.raises(ExportError, match="is a folder"):
        codec_for(folder, "ffv1")


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("codec", ["ffv1", "x264rgb"])
def test_lossless_codecs_decode_bit_identical(tmp_path, codec):
    out = export_frames(iter(FRAMES), target(tmp_path, codec), FPS, codec)
    assert out == target(tmp_path, codec)
    decoded = decode_video(out)
    assert decoded.shape == STACK.shape
    assert np.array_equal(decoded, STACK)
    assert probe_frame_count(out) == N


@pytest.mark.parametrize("codec", ["ffv1", "x264rgb"])
def test_lossless_odd_size_and_alpha_dropped(tmp_path, codec):
    rgb = synth_frames(5, 33, 51, seed=3)
    rgba = [np.dstack([f, np.full(f.shape[:2], 7, np.uint8)]) for f in rgb]
    out = export_frames(rgba, target(tmp_path, codec), 10, codec)
    assert np.array_equal(decode_video(out), np.stack(rgb))


def test_non_contiguous_views_export_as_they_look(tmp_path):
    # e.g. a GL read-back flipped with [::-1] on the caller's side
    views = [f[::-1] for f in FRAMES[:4]] + [FRAMES[4][:, ::-1]]
    out = export_frames(views, tmp_path / "v.mkv", FPS, "ffv1")
    assert np.array_equal(decode_video(out), np.stack(views))


@pytest.mark.parametrize("codec", CODECS)
def test_frame_count_is_duration_times_fps(tmp_path, codec):
    out = export_frames(FRAMES, target(tmp_path, codec), FPS, codec)
    if codec == "mp4":
        count = len(decode_video(out))
    elif codec == "gif":
        with Image.open(out) as im:
            count = im.n_frames
    elif codec == "png":
        count = len(list(out.glob("frame_*.png")))
    else:
        count = probe_frame_count(out)
    assert count == round(DURATION_S * FPS) == N
    assert probe_frame_count(out) == N
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no temporaries left


def test_mp4_is_h264_yuv420p_with_about_the_right_colours(tmp_path):
    out = export_frames(FRAMES, target(tmp_path, "mp4"), FPS, "mp4")
    log = subprocess.run(
        [video.ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True
    ).stderr
    assert "h264" in log and "yuv420p" in log and "bt709" in log
    decoded = decode_video(out).astype(np.int16)
    assert decoded.shape == STACK.shape
    assert np.abs(decoded - STACK).mean() < 12  # lossy, noise and 1-px checkers included
    for x0, y0, colour in BLOCKS:
        inner = decoded[:, y0 + 4 : y0 + 28, x0 + 4 : x0 + 28].reshape(-1, 3).mean(axis=0)
        assert np.abs(inner - np.array(colour)).max() < 6, (colour, inner)


def test_mp4_odd_size_is_padded_to_even(tmp_path):
    frames = synth_frames(4, 33, 51, seed=1)
    out = export_frames(frames, tmp_path / "odd.mp4", 10, "mp4")
    decoded = decode_video(out)
    assert decoded.shape == (4, 34, 52, 3)
    assert np.abs(decoded[:, :33, :51].astype(int) - np.stack(frames)).mean() < 20


def test_gif_loops_forever_and_durations_follow_fps(tmp_path):
    out = export_frames(FRAMES, tmp_path / "a.gif", 24, "gif")  # 24 frames at 24 fps = 1 s
    with Image.open(out) as im:
        assert im.n_frames == N
        assert im.info["loop"] == 0
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert set(durations) <= {40, 50}  # GIF delays are whole centiseconds
    assert sum(durations) == 1000

    out25 = export_frames(FRAMES[:5], tmp_path / "b.gif", 25, "gif")
    with Image.open(out25) as im:
        assert [im.seek(i) or im.info["duration"] for i in range(5)] == [40] * 5


def test_gif_is_exact_for_frames_with_few_colours(tmp_path):
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (200, 3), dtype=np.uint8)
    frames = [palette[rng.integers(0, 200, (H, W))] for _ in range(6)]
    out = export_frames(frames, tmp_path / "few.gif", 10, "gif")
    with Image.open(out) as im:
        got = []
        for i in range(im.n_frames):
            im.seek(i)
            got.append(np.asarray(im.convert("RGB")))
    assert np.array_equal(np.stack(got), np.stack(frames))


def test_gif_rejects_fps_it_cannot_play(tmp_path):
    with pytest.raises(ExportError, match="50 fps"):
        export_frames(FRAMES, tmp_path / "a.gif", 60, "gif")
    assert os.listdir(tmp_path) == []


def test_png_folder_holds_numbered_lossless_frames(tmp_path):
    out = export_frames(FRAMES[:3], tmp_path / "shots", FPS, "png")
    assert sorted(os.listdir(out)) == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    assert np.array_equal(decode_video(out), STACK[:3])


def test_progress_is_called_after_each_frame(tmp_path):
    for codec in CODECS:
        seen: list[int] = []
        export_frames(
            FRAMES[:6], target(tmp_path, codec), FPS, codec, total=6, progress=seen.append
        )
        assert seen == [1, 2, 3, 4, 5, 6], codec


# ---------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("exc", [KeyboardInterrupt, ValueError])
@pytest.mark.parametrize("codec", CODECS)
def test_source_failure_leaves_nothing(tmp_path, codec, exc):
    out = target(tmp_path, codec)
    with pytest.raises(exc):
        export_frames(fail_after(FRAMES, exc("boom")), out, FPS, codec)
    assert os.listdir(tmp_path) == []  # neither the target nor a temporary


@pytest.mark.parametrize("codec", CODECS)
def test_failure_keeps_existing_target_and_success_replaces_it(tmp_path, codec):
    out = target(tmp_path, codec)
    if codec == "png":
        old = export_frames(FRAMES[:2], out, FPS, codec)
        before = {p.name: p.read_bytes() for p in old.iterdir()}
    else:
        out.write_bytes(b"previous export")
    with pytest.raises(KeyboardInterrupt):
        export_frames(fail_after(FRAMES, KeyboardInterrupt()), out, FPS, codec)
    assert os.listdir(tmp_path) == [out.name]
    if codec == "png":
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    else:
        assert out.read_bytes() == b"previous export"

    export_frames(FRAMES[:4], out, FPS, codec)
    assert os.listdir(tmp_path) == [out.name]
    assert probe_frame_count(out) == 4


def test_bad_frames_and_arguments_are_export_errors(tmp_path):
    out = tmp_path / "a.mkv"
    cases = [
        ([FRAMES[0], FRAMES[1][:50]], "frame 1 is 160x50, but frame 0 is 160x96"),
        ([FRAMES[0].astype(np.float32)], "uint8"),
        ([FRAMES[0][..., 0]], "uint8"),
        ([], "no frames"),
    ]
    for frames, message in cases:
        with pytest.raises(ExportError, match=message):
            export_frames(frames, out, FPS, "ffv1")
    with pytest.raises(ExportError, match="expected 5 frames, the source gave 3"):
        export_frames(FRAMES[:3], out, FPS, "ffv1", total=5)
    with pytest.raises(ExportError, match="more than the 2 frames"):
        export_frames(FRAMES[:3], out, FPS, "ffv1", total=2)
    with pytest.raises(ExportError, match="fps"):
        export_frames(FRAMES, out, 0, "ffv1")
    with pytest.raises(ExportError, match="does not exist"):
        export_frames(FRAMES, tmp_path / "nope" / "a.mkv", FPS, "ffv1")
    assert os.listdir(tmp_path) == []


def test_png_refuses_a_folder_with_other_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="other files"):
        export_frames(FRAMES, folder, FPS, "png")
    assert os.listdir(folder) == ["notes.txt"]


class Counted:
    """An iterator over `frames` that counts how many the export pulled."""

    def __init__(self, frames):
        self._it, self.pulled = iter(frames), 0

    def __iter__(self):
        return self

    def __next__(self):
        frame = next(self._it)
        self.pulled += 1
        return frame


def test_failing_ffmpeg_is_a_quick_export_error(tmp_path, monkeypatch):
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: "/bin/false")
    out = tmp_path / "a.mkv"
    out.write_bytes(b"old")
    frames = Counted(FRAMES * 20)
    with pytest.raises(ExportError, match=r"a\.mkv.*ffmpeg"):
        export_frames(frames, out, FPS, "ffv1")
    assert frames.pulled <= N, frames.pulled  # gave up at once, not after every frame
    assert os.listdir(tmp_path) == ["a.mkv"] and out.read_bytes() == b"old"
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: str(tmp_path / "missing-ffmpeg"))
    with pytest.raises(ExportError, match="could not run ffmpeg"):
        export_frames(FRAMES, out, FPS, "ffv1")


def fake_ffmpeg(tmp_path: Path, body: str, encoders: str = "ffv1 libx264rgb libx264") -> str:
    """A shell-script ffmpeg: lists `encoders` for -encoders, otherwise runs `body`."""
    lines = "".join(f'echo " V....D {e}  fake"; ' for e in encoders.split())
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    script.write_text(
        f'#!/bin/sh\nfor a in "$@"; do [ "$a" = -encoders ] && {{ {lines}exit 0; }}; done\n' + body
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


posix_only = pytest.mark.skipif(os.name != "posix", reason="shell-script ffmpeg")


@posix_only
def test_ffmpeg_dying_mid_stream_reports_its_last_line(tmp_path, monkeypatch):
    # Reads ~2 frames, complains, dies: the next write hits a broken pipe.
    exe = fake_ffmpeg(
        tmp_path,
        "head -c 100000 >/dev/null\n"
        "echo '[matroska @ 0x55d0] Error writing frame: disk on fire' >&2\n"
        "echo 'Conversion failed!' >&2\nexit 1\n",
    )
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: exe)
    out = tmp_path / "a.mkv"
    frames = Counted(FRAMES * 20)
    with pytest.raises(ExportError) as info:
        export_frames(frames, out, FPS, "ffv1")
    assert frames.pulled <= N, frames.pulled  # stopped when ffmpeg died, not at the end
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(out)) and message.endswith("Error writing frame: disk on fire")
    assert os.listdir(tmp_path) == ["bin"]


@posix_only
def test_missing_encoder_is_named(tmp_path, monkeypatch):
    exe = fake_ffmpeg(tmp_path, "exit 1\n", encoders="ffv1")
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: exe)
    with pytest.raises(ExportError, match="no libx264rgb encoder"):
        export_frames(FRAMES, tmp_path / "a.mkv", FPS, "x264rgb")
    assert os.listdir(tmp_path) == ["bin"]


@posix_only
@pytest.mark.parametrize("codec", ["ffv1", "mp4"])
def test_disk_full_in_ffmpeg_leaves_nothing(tmp_path, monkeypatch, codec):
    # A file-size limit makes ffmpeg's writes fail with EFBIG, like ENOSPC on a full disk.
    exe = fake_ffmpeg(tmp_path, f"trap '' XFSZ\nulimit -f 20\nexec '{video.ffmpeg_exe()}' \"$@\"\n")
    monkeypatch.setattr(video, "ffmpeg_exe", lambda: exe)
    out = target(tmp_path, codec)
    out.write_bytes(b"old")
    with pytest.raises(ExportError, match=r"ffmpeg exited with status \d+.*: File too large$"):
        export_frames(FRAMES * 4, out, FPS, codec)
    assert sorted(os.listdir(tmp_path)) == sorted(["bin", out.name]) and out.read_bytes() == b"old"


@pytest.mark.parametrize("codec", ["png", "gif"])
def test_disk_full_in_pillow_leaves_nothing(tmp_path, monkeypatch, codec):
    # PNG frames are saved one file each; GIF frames are encoded one by one into the stream
    from PIL import GifImagePlugin

    owner, name = (Image.Image, "save") if codec == "png" else (GifImagePlugin, "getdata")
    real = getattr(owner, name)
    calls = []

    def fail_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, fail_third)
    with pytest.raises(ExportError, match="No space left on device"):
        export_frames(FRAMES, target(tmp_path, codec), FPS, codec)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="SIGINT to a process group, /proc")
@pytest.mark.parametrize("codec", ["x264rgb", "gif"])
def test_real_ctrl_c_leaves_nothing_and_no_ffmpeg(tmp_path, codec):
    out = target(tmp_path / "o", codec)
    out.parent.mkdir()
    child = textwrap.dedent(
        f"""
        import sys, time, numpy as np
        from pathlib import Path
        from llmviz_desktop.export.video import export_frames
        def frames():
            for i in range(10**6):
                if i == 5:
                    print("exporting", flush=True)
                time.sleep(0.005)
                yield np.full((96, 160, 3), i % 256, np.uint8)
        export_frames(frames(), Path({str(out)!r}), 30, {codec!r})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, process_group=0
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "exporting\n"
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert proc.wait(timeout=10) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.listdir(out.parent) == []
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(out.parent).encode() in cmdline.read_bytes():
                leftovers.append(cmdline)
        except OSError:
            pass
    assert leftovers == []
