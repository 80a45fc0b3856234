"""Errors inside the running app: a one-line message for the error panel, the traceback in a
log file in the platform's state directory. The app keeps running."""

from __future__ import annotations

import logging
import os
import traceback
from functools import cache
from pathlib import Path

APP = "llmviz-desktop"


def log_path() -> Path:
    from platformdirs import user_state_dir

    base = os.environ.get("LLMVIZ_STATE_DIR") or user_state_dir(APP)
    return Path(base) / "llmviz.log"


@cache
def logger() -> logging.Logger:
    log = logging.getLogger("llmviz")
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()  # no writable state dir: still never crash
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return log


def report(where: str, exc: BaseException) -> str:
    """Log the traceback; return the one line to show the user."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    logger().error("%s failed:\n%s", where, tb)
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"{where}: {type(exc).__name__}: {first} (details in {log_path()})"
