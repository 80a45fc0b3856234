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


def summary(where: str, exc: BaseException) -> str:
    """The one line to show the user."""
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"{where}: {type(exc).__name__}: {first} (details in {log_path()})"


def report(where: str, exc: BaseException) -> str:
    """Log the traceback; return the one line to show the user."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    logger().error("%s failed:\n%s", where, tb)
    return summary(where, exc)


MAX_SHOWN = 5  # the error panel keeps the latest few distinct lines


def record(shown: list[str], where: str, exc: BaseException) -> str:
    """report() it and add its line to `shown` (the error panel's list), once: a failure that
    repeats every frame is logged again only after the user dismissed its line, so the log
    does not grow by a traceback a frame."""
    message = summary(where, exc)
    if message not in shown:
        report(where, exc)
        shown.append(message)
        del shown[:-MAX_SHOWN]
    return message


def contained(shown: list[str], where: str, fn, *args) -> bool:
    """Run fn(*args); an Exception is recorded (logged, shown) instead of ending the app.
    True when fn finished."""
    try:
        fn(*args)
    except Exception as e:
        record(shown, where, e)
        return False
    return True
