"""Writing files so they appear complete or not at all (used for checkpoints, screenshots,
reports and settings): a temp file beside the target, fsync, then rename over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(target: Path, write: Callable[[str], object]) -> None:
    """write(temp_path) fills a temp file in the target's folder, which then replaces the
    target. Any failure (a full disk, Ctrl-C) removes the temp file and leaves an existing
    target untouched."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp made it 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
