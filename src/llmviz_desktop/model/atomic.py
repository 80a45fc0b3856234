"""Writing files so they appear complete or not at all (used for checkpoints, screenshots,
reports and settings): a temp file beside the target, fsync, then rename over it.

A writer killed with SIGKILL cannot clean up, so its temp file stays behind. Temp names carry
the writer's process id (`.NAME.PID-XXXXXXXX.tmp`, `.partial` for video exports), and the next
writer to the same folder sweeps those whose process is gone (`sweep_stale`); a temp of a
writer still running is never touched. Names without a process id (written by older versions)
are swept once they are LEGACY_STALE_S old."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

TEMP_SUFFIXES = (".tmp", ".partial")  # atomic_write / save_checkpoint, video export
LEGACY_STALE_S = 15 * 60  # a temp without a process id this much older than now is left over
# .NAME.PID-RANDOM.SUFFIX, or (older versions) .NAME.RANDOM.SUFFIX; RANDOM is mkstemp's or
# mkdtemp's 8 characters, or secrets.token_hex(4)
_TEMP = re.compile(
    r"^\.(?P<name>.+)\.(?:(?P<pid>[1-9]\d{0,9})-)?(?P<rand>[a-z0-9_]{8})(?P<suffix>\.[a-z]+)$"
)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_prefix(target: Path) -> str:
    """The start of a temp name for `target` (hidden, naming the target and this process)."""
    return f".{Path(target).name}.{os.getpid()}-"


def make_temp(target: Path, suffix: str = ".tmp", folder: bool = False) -> Path:
    """Create an empty temp file (or folder) beside `target`, named with this process's id so
    that sweep_stale can tell whether its writer is still alive."""
    target = Path(target)
    if folder:
        return Path(tempfile.mkdtemp(dir=target.parent, prefix=temp_prefix(target), suffix=suffix))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix(target), suffix=suffix)
    os.close(fd)
    return Path(tmp)


def _started_at(pid: int) -> float | None:
    """When a process started (seconds since the epoch), from /proc; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22, counted after the ")" that ends the command name
        with open("/proc/stat", "rb") as f:
            boot = next(int(x.split()[1]) for x in f if x.startswith(b"btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, mtime: float) -> bool:
    """Is the process that named a temp `pid` still running (and the same process: a pid
    reused by a process started after the temp was last written is not its writer)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive
    except OSError:
        return True  # cannot tell: keep the file
    started = _started_at(pid)
    return started is None or started <= mtime + 1.0  # 1 s for clock-tick rounding


def remove(path: Path) -> bool:
    """Remove a file, link or folder tree as far as possible; True when nothing is left
    (someone else removing it first counts). Never raises: used on cleanup paths."""
    path = Path(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass
    return not os.path.lexists(path)


def sweep_stale(
    directory: Path,
    name: str | None = None,
    suffixes: Iterable[str] = TEMP_SUFFIXES,
    now: float | None = None,
) -> list[Path]:
    """Remove the temp files and folders a killed writer left in `directory` (for the target
    `name` only, or for any target): those whose process id is no longer running, and those
    without one older than LEGACY_STALE_S. Returns what was removed; never raises for a
    folder that cannot be listed or an entry that cannot be removed."""
    directory = Path(directory)
    suffixes = tuple(suffixes)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or m["suffix"] not in suffixes or (name is not None and m["name"] != name):
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if m["pid"] is not None:
            if _writer_alive(int(m["pid"]), mtime):
                continue
        elif now - mtime < LEGACY_STALE_S:
            continue
        path = Path(entry.path)
        if remove(path):
            removed.append(path)
    return removed


def atomic_write(target: Path, write: Callable[[str], object]) -> None:
    """write(temp_path) fills a temp file in the target's folder, which then replaces the
    target. Any failure (a full disk, Ctrl-C) removes the temp file and leaves an existing
    target untouched; temp files of earlier writers of this target that were killed are
    removed first."""
    target = Path(target)
    sweep_stale(target.parent, target.name)
    tmp = str(make_temp(target))
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp made it 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["atomic_write", "make_temp", "remove", "sweep_stale", "temp_prefix", "umask"]
