"""User settings that survive restarts (window size, last model, colour scale, walkthrough
position, recent checkpoint folders), in the platform's config directory. Written atomically;
a corrupt file is moved aside with a warning and the defaults are used."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..model.atomic import atomic_write
from ..model.files import FileProblem, read_limited

APP = "llmviz-desktop"
MAX_BYTES = 64 * 1024
MAX_RECENT = 8
MIN_WINDOW = (480, 320)  # a window last shrunk to a sliver opens at a usable size
MAX_WINDOW = 16384  # the largest side opened when the screen's size is unknown


@dataclass
class Settings:
    window_width: int = 1280
    window_height: int = 800
    model: str = "nano-sort"
    symlog: bool = False
    normalise: str = "tensor"
    chapter: str = ""  # walkthrough chapter id ('' none)
    step: int = 0
    progress: float = 0.0  # within the step: a restart shows the picture that was on screen
    recent_checkpoints: list[str] = field(default_factory=list)  # latest first


def settings_path() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get("LLMVIZ_CONFIG_DIR") or user_config_dir(APP)) / "settings.json"


def _is_text(value: object) -> bool:
    """A string that can be written back: JSON's "\\ud800" escapes decode to lone surrogates,
    which no UTF-8 file (or window title) can hold."""
    if not isinstance(value, str) or len(value) >= 4096:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validated(data: object) -> Settings:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    defaults = Settings()
    kwargs = {}
    for f in fields(Settings):
        if f.name not in data:
            continue
        value, want = data[f.name], getattr(defaults, f.name)
        if isinstance(want, bool):
            ok = isinstance(value, bool)
        elif isinstance(want, float):  # a fraction 0..1 (JSON may write 1.0 as 1)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and 0.0 <= value <= 1.0  # (NaN fails both comparisons)
            value = float(value) if ok else value
        elif isinstance(want, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 16
        elif isinstance(want, list):
            ok = isinstance(value, list) and all(_is_text(v) for v in value)
        else:
            ok = _is_text(value)
        if not ok:
            raise ValueError(f"field {f.name!r} has an invalid value")
        kwargs[f.name] = value
    s = Settings(**kwargs)
    if s.normalise not in ("tensor", "global"):
        raise ValueError("field 'normalise' must be 'tensor' or 'global'")
    s.recent_checkpoints = s.recent_checkpoints[:MAX_RECENT]
    return s


def load_settings(path: Path | None = None) -> tuple[Settings, str | None]:
    """(settings, warning). A missing file gives the defaults quietly; a corrupt one is moved
    aside (settings.json.corrupt-<time>) and reported in the warning. A FIFO, device or
    folder in its place is left alone, never read (it could block or never end), and
    reported in the warning; the defaults are used."""
    path = path or settings_path()
    if not os.path.lexists(path):
        return Settings(), None
    try:
        text = read_limited(path, MAX_BYTES, "settings").decode("utf-8")
        return _validated(json.loads(text)), None
    except FileProblem as e:
        if e.kind == "missing":  # a dangling link, or removed meanwhile
            return Settings(), None
        if e.kind == "not a file":  # a FIFO or device could block or never end: not touched
            return Settings(), f"{e}; settings ignored, using defaults"
        problem: Exception = e
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as e:
        problem = e
    # corrupt, oversized or unreadable: moved aside, so that the next start is clean
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
        where = f"moved to {aside.name}"
    except OSError:
        where = "left in place"
    said = (str(problem).splitlines() or [type(problem).__name__])[0]
    said = said.removeprefix(f"{path}: ")  # a FileProblem names the file; said once
    return Settings(), f"{path}: unreadable settings ({said}); {where}, using defaults"


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write atomically (temp file + rename): a failed write leaves the previous file intact.
    Raises OSError on failure (e.g. a full disk)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(settings), indent=2) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def window_size(settings: Settings, screen: tuple[int, int] | None) -> tuple[int, int]:
    """The saved window size, at least MIN_WINDOW and at most the screen's work area (or
    MAX_WINDOW a side when it is unknown): glfw crashes on a 65535 x 65535 window."""
    limit_w, limit_h = screen if screen is not None else (MAX_WINDOW, MAX_WINDOW)
    limit_w, limit_h = min(limit_w, MAX_WINDOW), min(limit_h, MAX_WINDOW)
    width = min(max(settings.window_width, MIN_WINDOW[0]), limit_w)
    height = min(max(settings.window_height, MIN_WINDOW[1]), limit_h)
    return max(width, 1), max(height, 1)
