"""Video export: frames (numpy uint8 [H, W, 3|4], top row first) -> a video file or a PNG folder.

Codecs (``CODECS``):

- ``ffv1``    lossless FFV1 in .mkv (pix_fmt bgr0: RGB kept exactly). The default for .mkv.
- ``x264rgb`` lossless H.264 RGB (libx264rgb, crf 0) in .mkv; smaller for still scenes, fewer
  players can show it.
- ``mp4``     H.264 yuv420p (BT.709) in .mp4 for sharing; lossy. An odd width or height is
  padded by one black row/column (yuv420p needs even sides).
- ``gif``     one palette per frame (exact when a frame has <= 256 colours), loops forever; frames
  are encoded (Pillow) and written as they arrive, so memory does not grow with their number.
- ``png``     a folder of frame_000000.png, frame_000001.png, ...

The video codecs pipe rawvideo rgb24 into the ffmpeg that ships with imageio-ffmpeg. Every export is
atomic: it writes a hidden temporary sibling (``.NAME.PID-XXXXXXXX.partial``; the next export sweeps
one a killed export left) and renames it onto the target only once it is complete, so Ctrl-C, an
exception from the frame source, an ffmpeg failure or a full disk leaves the target as it was
(absent, or the previous file intact) and no temporary behind. Failures the user can act on are
``ExportError`` with a one-line message that names the file. Exceptions raised by the frame source
itself (including KeyboardInterrupt) propagate unchanged after the cleanup.

This module knows nothing about GL: flip GL read-backs (origin bottom-left) before passing them.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..model.atomic import remove, sweep_stale, temp_prefix

CODECS = ("ffv1", "x264rgb", "mp4", "gif", "png")

SUFFIX_CODEC = {".mkv": "ffv1", ".mp4": "mp4", ".gif": "gif"}
CODEC_SUFFIX = {"ffv1": ".mkv", "x264rgb": ".mkv", "mp4": ".mp4", "gif": ".gif"}
# Suffixes that never name a PNG folder (so "--codec png out.mp4" is a contradiction).
_FILE_SUFFIXES = (*SUFFIX_CODEC, ".png", ".avi", ".mov", ".webm", ".mkv")

# The encoder each ffmpeg-backed codec needs, and its output options (after the rawvideo input).
_ENCODER = {"ffv1": "ffv1", "x264rgb": "libx264rgb", "mp4": "libx264"}
_FFMPEG_ARGS: dict[str, list[str]] = {
    # level 3 + slices: multithreaded, every frame a keyframe; bgr0 is coded losslessly with a
    # reversible colour transform (FFV1 has no 8-bit gbrp).
    "ffv1": ["-c:v", "ffv1", "-level", "3", "-g", "1", "-slices", "4", "-slicecrc", "1",
             "-pix_fmt", "bgr0", "-f", "matroska"],
    "x264rgb": ["-c:v", "libx264rgb", "-crf", "0", "-preset", "fast", "-pix_fmt", "rgb24",
                "-f", "matroska"],
    # H.264 4:2:0 for sharing. BT.709 limited range: converted by our own scale filter and
    # tagged by setparams (see _write_ffmpeg); -colorspace etc. would not reach the stream.
    "mp4": ["-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4"],
}  # fmt: skip

FRAME_NAME = "frame_{:06d}.png"
_FRAME_RE = re.compile(r"frame_\d{6,}\.png")
GIF_MAX_FPS = 50.0  # GIF delays are centiseconds; browsers slow down delays below 2 cs
FINISH_TIMEOUT_S = 300.0  # how long ffmpeg may take to flush once all frames are in
PNG_COMPRESS_LEVEL = 4


class ExportError(RuntimeError):
    """An export failed; the message is one line for the user (which file, what went wrong)."""


# ---------------------------------------------------------------------------- codec selection


def codec_for(path: Path, codec: str | None = None) -> str:
    """The codec for writing ``path``: ``codec`` if given (checked against the path), else from
    the suffix: .mkv -> ffv1, .mp4 -> mp4, .gif -> gif, an existing directory or no suffix ->
    png. Contradictions (``--codec mp4`` with out.gif) and unknown suffixes are ExportErrors."""
    path = Path(path)
    if codec is not None and codec not in CODECS:
        raise ExportError(f"{path}: unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == "":
        implied: str | None = "png"
    else:
        implied = SUFFIX_CODEC.get(suffix)
    if codec is None:
        if implied is None:
            raise ExportError(
                f"{path}: no codec for '{path.suffix}' files; use .mkv (lossless), .mp4, .gif, "
                "or a folder name without a suffix for PNG frames"
            )
        return implied
    if codec == "png":
        if implied == "png" or (implied is None and suffix not in _FILE_SUFFIXES):
            return codec
        raise ExportError(f"{path}: codec png writes a folder of frames; give a folder name")
    if implied == "png" and path.is_dir():
        raise ExportError(
            f"{path}: is a folder, but codec {codec} writes one {CODEC_SUFFIX[codec]}"
        )
    if suffix != CODEC_SUFFIX[codec]:
        raise ExportError(
            f"{path}: codec {codec} writes a {CODEC_SUFFIX[codec]} file, "
            f"not '{path.suffix or '(no suffix)'}'"
        )
    return codec


# ---------------------------------------------------------------------------- ffmpeg helpers


def ffmpeg_exe() -> str:
    """The ffmpeg binary (imageio-ffmpeg's bundled one, or IMAGEIO_FFMPEG_EXE)."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as e:  # ImportError, RuntimeError("No ffmpeg exe could be found")
        raise ExportError(f"no ffmpeg available (pip install imageio-ffmpeg): {e}") from e


@functools.lru_cache(maxsize=8)
def _encoders(exe: str) -> frozenset[str]:
    try:
        r = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-encoders"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ExportError(f"could not run ffmpeg ({exe}): {_reason(e)}") from e
    if r.returncode != 0:
        raise ExportError(
            f"ffmpeg ({exe}) could not list its encoders: {_status(r.returncode)}"
            f"{_tail_suffix(r.stderr)}"
        )
    names = set()
    for line in r.stdout.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "V":
            names.add(parts[1])
    return frozenset(names)


def _require_encoder(exe: str, codec: str, out: Path) -> None:
    enc = _ENCODER[codec]
    try:
        names = _encoders(exe)
    except ExportError as e:
        raise ExportError(f"{out}: {e}") from e
    if enc not in names:
        raise ExportError(f"{out}: this ffmpeg ({exe}) has no {enc} encoder, needed for {codec}")


_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*")
_BORING = re.compile(r"^(Conversion failed!|Exiting with exit code -?\d+|Exiting normally.*)$")


def last_meaningful_line(stderr: bytes | str) -> str:
    """The last line of an ffmpeg log that says something (no '[muxer @ 0x..]' prefix)."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    for line in reversed(text.splitlines()):
        line = _LOG_PREFIX.sub("", line.strip()).strip()
        if line and not _BORING.match(line):
            return line
    return ""


def _tail_suffix(stderr: bytes | str) -> str:
    line = last_meaningful_line(stderr)
    return f": {line}" if line else ""


def _status(rc: int) -> str:
    return f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def _new_process_group() -> dict[str, Any]:
    """Keep ffmpeg out of the terminal's process group: Ctrl-C reaches only Python, which then
    kills ffmpeg itself (instead of ffmpeg finishing a half file on its own SIGINT)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"process_group": 0}


def _rate(fps: float) -> str:
    f = Fraction(fps).limit_denominator(1_000_000)
    return f"{f.numerator}/{f.denominator}"


def _read_log(log: IO[bytes]) -> bytes:
    log.flush()
    log.seek(0)
    return log.read()


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Make sure ffmpeg is gone: kill it if it still runs, close its stdin, wait."""
    if proc.poll() is None:
        proc.kill()
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
    proc.wait()


# ---------------------------------------------------------------------------- frame source


class _Source:
    """Validates frames (uint8, 3 or 4 channels, one size), drops alpha, counts, and remembers an
    exception raised by the caller's iterator so it is re-raised as is, not as an ExportError."""

    def __init__(self, frames: Iterable[np.ndarray], out: Path, total: int | None) -> None:
        self.it = iter(frames)
        self.out = out
        self.total = total
        self.shape: tuple[int, ...] | None = None
        self.count = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            try:
                frame = next(self.it)
            except StopIteration:
                return
            except BaseException as e:
                self.error = e
                raise
            yield self._check(frame)

    def first(self) -> np.ndarray:
        for frame in self:
            return frame
        raise ExportError(f"{self.out}: no frames to export")

    def _check(self, frame: np.ndarray) -> np.ndarray:
        i = self.count
        if self.total is not None and i >= self.total:
            raise ExportError(f"{self.out}: got more than the {self.total} frames announced")
        a = np.asarray(frame)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ExportError(
                f"{self.out}: frame {i} must be uint8 [H, W, 3 or 4], got {a.dtype} {list(a.shape)}"
            )
        a = a[:, :, :3]
        if self.shape is None:
            if a.shape[0] < 1 or a.shape[1] < 1:
                raise ExportError(f"{self.out}: frame 0 is empty ({a.shape[1]}x{a.shape[0]})")
            self.shape = a.shape
        elif a.shape != self.shape:
            raise ExportError(
                f"{self.out}: frame {i} is {a.shape[1]}x{a.shape[0]}, "
                f"but frame 0 is {self.shape[1]}x{self.shape[0]}"
            )
        self.count += 1
        return np.ascontiguousarray(a)


# ---------------------------------------------------------------------------- writers

ProgressFn = Callable[[int], None] | None


def _write_ffmpeg(
    src: _Source, tmp: Path, out: Path, fps: float, codec: str, progress: ProgressFn
) -> None:
    exe = ffmpeg_exe()
    _require_encoder(exe, codec, out)
    first = src.first()
    h, w = first.shape[:2]
    args = list(_FFMPEG_ARGS[codec])
    if codec == "mp4":
        vf = (
            "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
        )
        if w % 2 or h % 2:  # yuv420p: pad the odd side with one black row/column
            vf = f"pad={w + w % 2}:{h + h % 2}:0:0:black," + vf
        args = ["-vf", vf, *args]
    cmd = [
        exe, "-hide_banner", "-nostats", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{w}x{h}",
        "-framerate", _rate(fps), "-i", "pipe:0",
        "-an", *args, "-y", "file:" + str(tmp),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: ffmpeg can never block on it
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                **_new_process_group(),
            )
        except OSError as e:
            raise ExportError(f"{out}: could not run ffmpeg ({exe}): {_reason(e)}") from e
        try:
            assert proc.stdin is not None
            n = 0
            for frame in itertools.chain([first], src):
                try:
                    proc.stdin.write(frame.data.cast("B"))
                except OSError as e:  # BrokenPipeError: ffmpeg died
                    _reap(proc)
                    raise ExportError(
                        f"{out}: ffmpeg {_status(proc.returncode)} after {n} frames"
                        f"{_tail_suffix(_read_log(log)) or ': ' + _reason(e)}"
                    ) from None
                n += 1
                if progress is not None:
                    progress(n)
            try:
                proc.stdin.close()
                rc = proc.wait(timeout=FINISH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise ExportError(
                    f"{out}: ffmpeg did not finish within {FINISH_TIMEOUT_S:.0f} s; killed"
                ) from None
            except OSError:  # the final flush hit a dead ffmpeg
                _reap(proc)
                rc = proc.returncode
            if rc != 0:
                raise ExportError(f"{out}: ffmpeg {_status(rc)}{_tail_suffix(_read_log(log))}")
        finally:
            _reap(proc)


def _to_palette(rgb: np.ndarray) -> Any:
    """RGB frame -> Pillow 'P' image: exact when the frame has <= 256 colours, else a fast
    octree palette without dithering (dither noise flickers and defeats GIF delta frames)."""
    from PIL import Image

    im = Image.fromarray(rgb)
    colors = im.getcolors(256)
    if colors is None:
        return im.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    pal = np.array([c for _, c in colors], dtype=np.uint32).reshape(-1, 3)
    keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    order = np.argsort(keys)
    keys, pal = keys[order], pal[order]
    px = (
        (rgb[:, :, 0].astype(np.uint32) << 16)
        | (rgb[:, :, 1].astype(np.uint32) << 8)
        | rgb[:, :, 2].astype(np.uint32)
    )
    idx = np.searchsorted(keys, px).astype(np.uint8)
    p = Image.fromarray(idx)
    p.putpalette(pal.astype(np.uint8).tobytes())
    return p


GIF_MAX_DELAY_CS = 65535  # a frame's delay is a 16-bit count of centiseconds


class _GifFrame:
    """A frame waiting to be written: its RGB, and how long it shows (identical frames that
    follow only add their time to it)."""

    def __init__(self, rgb: np.ndarray, previous: np.ndarray | None, cs: int) -> None:
        self.rgb, self.previous, self.cs = rgb, previous, cs


def _gif_header(width: int, height: int) -> bytes:
    """GIF89a, no global colour table (every frame carries its own), looping forever."""
    import struct

    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00"
    return screen + loop


def _gif_frame_bytes(frame: _GifFrame) -> list[bytes]:
    """One frame: only the rectangle that changed since the previous frame, with its own
    palette; inside it, pixels that did not change are transparent when the palette has room
    (the previous frame shows through: disposal 1, "leave in place")."""
    from PIL import GifImagePlugin

    rgb, prev = frame.rgb, frame.previous
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = 0, 0, w, h
    unchanged = None
    if prev is not None:
        changed = (rgb != prev).any(axis=2)
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if rows.size == 0:  # the same picture again (a delay too long for one frame)
            x0, y0, x1, y1 = 0, 0, 1, 1
        else:
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        unchanged = ~changed[y0:y1, x0:x1]
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    im = _to_palette(crop)
    params: dict[str, Any] = {"duration": 10 * frame.cs, "disposal": 1}
    if unchanged is not None and unchanged.any():
        idx = np.asarray(im)
        used = int(idx.max()) + 1
        if used < 256:  # a free index: mark the unchanged pixels transparent
            idx = idx.copy()
            idx[unchanged] = used
            pal = (im.getpalette() or [])[: 3 * used] + [0, 0, 0]
            im = _indexed_image(idx, pal)
            params["transparency"] = used
    params["include_color_table"] = True
    return GifImagePlugin.getdata(im, offset=(x0, y0), **params)


def _indexed_image(idx: np.ndarray, palette: list[int]) -> Any:
    from PIL import Image

    im = Image.fromarray(idx.astype(np.uint8), "P")
    im.putpalette(palette)
    return im


def _write_gif(src: _Source, tmp: Path, fps: float, progress: ProgressFn) -> None:
    """Stream frames into the GIF as they arrive: memory holds two frames, whatever their
    number. Each frame's delay keeps the running total at i / fps (whole centiseconds), and a
    frame identical to the one before only lengthens that one's delay."""
    pending: _GifFrame | None = None
    with open(tmp, "wb") as fp:
        end_cs = 0
        for i, frame in enumerate(src):
            start_cs, end_cs = end_cs, round((i + 1) * 100 / fps)
            cs = end_cs - start_cs
            if pending is None:
                fp.write(_gif_header(frame.shape[1], frame.shape[0]))
                pending = _GifFrame(frame, None, cs)
            elif np.array_equal(frame, pending.rgb) and pending.cs + cs <= GIF_MAX_DELAY_CS:
                pending.cs += cs
            else:
                for part in _gif_frame_bytes(pending):
                    fp.write(part)
                pending = _GifFrame(frame, pending.rgb, cs)
            if i and progress is not None:
                progress(i)
        if pending is None:
            src.first()  # raises "no frames"
            return
        for part in _gif_frame_bytes(pending):
            fp.write(part)
        fp.write(b";")
    if progress is not None:
        progress(src.count)


def _write_png(src: _Source, tmp: Path, progress: ProgressFn) -> None:
    from PIL import Image

    for i, frame in enumerate(src):
        Image.fromarray(frame).save(tmp / FRAME_NAME.format(i), compress_level=PNG_COMPRESS_LEVEL)
        if progress is not None:
            progress(i + 1)
    if src.count == 0:
        src.first()  # raises "no frames"


# ---------------------------------------------------------------------------- atomic target


def _temp_sibling(out: Path, folder: bool) -> Path:
    for _ in range(100):
        tmp = out.with_name(f"{temp_prefix(out)}{secrets.token_hex(4)}.partial")
        try:
            if folder:
                os.mkdir(tmp, 0o777)  # the umask applies, as for any new folder
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise ExportError(f"{out}: could not create a temporary file next to it")


def _check_target(out: Path, codec: str) -> None:
    if not out.parent.is_dir():
        raise ExportError(f"{out}: the folder {out.parent} does not exist")
    if codec == "png":
        if out.exists() and not out.is_dir():
            raise ExportError(f"{out}: exists and is not a folder; PNG frames need a folder")
        if out.is_dir():
            others = [p.name for p in out.iterdir() if not _FRAME_RE.fullmatch(p.name)]
            if others:
                raise ExportError(
                    f"{out}: folder holds other files ({others[0]}, ...); "
                    "give a new or empty folder, or one from an earlier PNG export"
                )
    elif out.is_dir():
        raise ExportError(f"{out}: is a folder, but {codec} writes a single file")


def _commit(tmp: Path, out: Path) -> None:
    """Move the finished temporary onto the target. A file replaces a file atomically; a PNG
    folder replaces an older PNG export by swapping it aside first (and back if that fails)."""
    if not tmp.is_dir() or not out.is_dir():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.{secrets.token_hex(4)}.old")
    os.rename(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    remove(old)


# ---------------------------------------------------------------------------- entry points


def export_frames(
    frames: Iterable[np.ndarray],
    out: Path,
    fps: float,
    codec: str,
    total: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write ``frames`` (uint8 [H, W, 3|4], top row first, all one size) to ``out`` at ``fps``.

    ``codec`` is one of CODECS and must agree with ``out`` (see codec_for). ``total``, when given,
    is the number of frames the source promises; a different number is an ExportError. After each
    frame is written ``progress(n)`` is called with the count so far. Returns ``out``.

    Atomic: nothing appears at ``out`` (and an existing file there is left untouched) unless the
    whole export succeeds; temporaries are removed on any failure, Ctrl-C included.
    """
    out = Path(out)
    codec = codec_for(out, codec)
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        fps = math.nan
    if not (math.isfinite(fps) and fps > 0):
        raise ExportError(f"{out}: fps must be a positive number, got {fps!r}")
    if codec == "gif" and fps > GIF_MAX_FPS:
        raise ExportError(f"{out}: GIF plays at most {GIF_MAX_FPS:.0f} fps, got {fps:g}")
    if total is not None and total < 1:
        raise ExportError(f"{out}: total must be at least 1, got {total}")
    _check_target(out, codec)

    src = _Source(frames, out, total)
    sweep_stale(out.parent, out.name)  # temps of an earlier export here that was killed
    try:
        tmp = _temp_sibling(out, folder=codec == "png")
    except OSError as e:
        raise ExportError(f"{out}: cannot write there: {_reason(e)}") from e
    done = False
    try:
        if codec == "gif":
            _write_gif(src, tmp, fps, progress)
        elif codec == "png":
            _write_png(src, tmp, progress)
        else:
            _write_ffmpeg(src, tmp, out, fps, codec, progress)
        if total is not None and src.count != total:
            raise ExportError(f"{out}: expected {total} frames, the source gave {src.count}")
        _commit(tmp, out)
        done = True
    except OSError as e:
        if e is src.error:  # the caller's iterator failed: not ours to rephrase
            raise
        raise ExportError(f"{out}: write failed: {_reason(e)}") from e
    finally:
        if not done:
            remove(tmp)
    return out


def _run_ffmpeg(args: list[str], path: Path, timeout: float = 600.0) -> bytes:
    exe = ffmpeg_exe()
    try:
        r = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-loglevel", "error", *args],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ExportError(f"{path}: could not run ffmpeg ({exe}): {_reason(e)}") from e
    if r.returncode != 0:
        raise ExportError(f"{path}: ffmpeg {_status(r.returncode)}{_tail_suffix(r.stderr)}")
    return r.stdout


def _png_frames(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _FRAME_RE.fullmatch(p.name))


def decode_video(path: Path) -> np.ndarray:
    """All frames of a video (or GIF, or a PNG export folder) as uint8 [N, H, W, 3], decoded by
    the same ffmpeg to rawvideo rgb24 (PNG folders through Pillow)."""
    path = Path(path)
    if path.is_dir():
        from PIL import Image

        files = _png_frames(path)
        if not files:
            raise ExportError(f"{path}: no frame_*.png files")
        return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    src = "file:" + str(path.resolve())
    # The size from one PPM frame (its header is "P6 W H 255"), then every frame as rawvideo.
    ppm = _run_ffmpeg(
        ["-i", src, "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm", "pipe:1"], path
    )
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", ppm)
    if not m:
        raise ExportError(f"{path}: ffmpeg decoded no video frame")
    w, h = int(m.group(1)), int(m.group(2))
    raw = _run_ffmpeg(
        ["-i", src, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], path
    )
    if len(raw) % (w * h * 3):
        raise ExportError(f"{path}: decoded {len(raw)} bytes, not a whole number of {w}x{h} frames")
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def probe_frame_count(path: Path) -> int:
    """Number of frames in a video/GIF (counted by ffmpeg without decoding) or PNG folder."""
    path = Path(path)
    if path.is_dir():
        return len(_png_frames(path))
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    log = _run_ffmpeg(
        ["-i", "file:" + str(path.resolve()), "-map", "0:v:0", "-c", "copy", "-f", "null", "-",
         "-progress", "pipe:1"],
        path,
    )  # fmt: skip
    counts = re.findall(rb"^frame=(\d+)\s*$", log, re.M)
    if not counts:
        raise ExportError(f"{path}: ffmpeg reported no frame count")
    return int(counts[-1])
