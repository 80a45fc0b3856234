"""Opening the files of a checkpoint folder: the true reason when one cannot be read, sizes
checked before anything is read, and never a blocking open (a FIFO or device is refused).

Callers turn a FileProblem into their own one-line error (WeightsError, TokenizerError).
"""

from __future__ import annotations

import errno
import os
import resource
import stat
from pathlib import Path


class FileProblem(Exception):
    """A file that cannot be read as expected; str() is one line naming the file. `kind` says
    which way, for callers that treat them differently (settings leave a FIFO alone but move a
    corrupt file aside): "missing", "not a file", "too large" or "unreadable"."""

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


def reason(e: OSError) -> str:
    """The true reason of an OSError, in a few lower-case words ("permission denied")."""
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENOENT:
        return "file not found"
    if e.errno == errno.EISDIR:
        return "is a directory"
    if e.errno == errno.ENOTDIR:
        return "a parent of it is not a directory"
    text = (e.strerror or "").splitlines()[0] if e.strerror else type(e).__name__
    return text[:1].lower() + text[1:]


def open_regular(path: Path, what: str) -> tuple[int, int]:
    """Open `path` read-only without blocking; (fd, size) of a regular file, else FileProblem
    saying what it is instead ("is a directory", "permission denied", a FIFO...)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.EISDIR:
            raise FileProblem(f"{path}: is a directory, expected {what}", "not a file") from None
        kind = "missing" if e.errno == errno.ENOENT else "unreadable"
        raise FileProblem(f"{path}: cannot read {what} ({reason(e)})", kind) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FileProblem(f"{path}: is a directory, expected {what}", "not a file")
        if not stat.S_ISREG(st.st_mode):
            raise FileProblem(
                f"{path}: is not a regular file (a FIFO, device or socket)", "not a file"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The whole of a small file, refused unread when its size is over `limit` bytes."""
    fd, size = open_regular(path, what)
    try:
        if size > limit:
            raise FileProblem(
                f"{path}: {size:,} bytes is too large for {what} (at most {limit:,} bytes)",
                "too large",
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(size + 1)  # one byte more than fstat said: a file still growing
    except OSError as e:
        raise FileProblem(f"{path}: cannot read {what} ({reason(e)})") from None
    finally:
        os.close(fd)
    if len(data) > size:
        raise FileProblem(f"{path}: the file grew while it was being read", "too large")
    return data


def stat_problem(path: Path) -> str | None:
    """None when `path` can be looked at; otherwise the reason ("permission denied"...), with
    a missing file reported as "file not found"."""
    try:
        os.stat(path)
    except OSError as e:
        return reason(e)
    return None


def available_memory() -> int | None:
    """Bytes this process may still allocate: the least of the system's available memory and
    `ulimit -v` headroom; None when unknown."""
    found: list[int] = []
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm", "rb") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            used = 0
        found.append(max(soft - used, 0))
    return min(found) if found else None
