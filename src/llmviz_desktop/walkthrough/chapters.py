"""Chapter files: TOML, one per chapter, validated into Chapter / Step dataclasses.

The format is documented in walkthrough/FORMAT.md. Every problem is a ChapterError whose
message is one line naming the file and the field (or the TOML line).
"""

from __future__ import annotations

import fnmatch
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.files import FileProblem, read_limited
from ..resources import walkthrough_dir
from ..scene.boxes import Scene
from ..scene.framing import CAMERA_PRESETS
from .text import links

ANIMATIONS: dict[str, dict[str, type]] = {
    "none": {},
    "reveal": {"tensors": list, "order": str, "numbers": str},
    "lookup": {},
    "dot": {"tensor": str, "cell": list},
    "softmax": {"tensor": str},
    "layernorm": {"prefix": str},
    "stack": {},
    "sample": {"lens": str, "sweep": str, "temperature": float},
    "autoregressive": {},
    "add": {"tensor": str},
    "gelu": {"tensor": str},
    "weighted": {"tensor": str},
    "compare": {"tensors": list},
    "glow": {"tensors": list, "note": str},
    "same": {},
}
REQUIRED_ANIMATION_FIELDS = {
    "reveal": ("tensors",),
    "dot": ("tensor", "cell"),
    "softmax": ("tensor",),
    "layernorm": ("prefix",),
    "add": ("tensor",),
    "gelu": ("tensor",),
    "weighted": ("tensor",),
    "compare": ("tensors",),
    "glow": ("tensors",),
}
REVEAL_ORDERS = ("columns", "rows", "cells", "all")
MAX_FILE_BYTES = 256 * 1024
MAX_DURATION = 120.0


class ChapterError(ValueError):
    """A chapter file that cannot be used; one line naming the file and field."""


@dataclass(frozen=True)
class Animation:
    kind: str = "none"
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    duration: float = 4.0
    t: int | None = None  # token position in focus (None: the last input position)
    camera: str | dict | None = None  # None: keep the previous step's camera
    camera_end: str | dict | None = None  # None: the camera rests; else it travels here by p=1
    show: tuple[str, ...] = ("*",)
    fade: tuple[str, ...] = ()
    highlight: tuple[str, ...] = ()
    model: str | None = None
    animation: Animation = field(default_factory=Animation)


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    steps: tuple[Step, ...]
    path: Path
    model: str | None = None
    revealed: tuple[str, ...] = ("*",)

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.steps)


def _key(key: str) -> str:
    """A field name for a message: as written when printable, else quoted with escapes, so a
    key holding a newline (or U+2028) cannot break the one-line error."""
    return key if key.isprintable() and key.strip() == key and key else repr(key)


def _unknown(keys, where: str, what: str) -> None:
    if keys:
        raise ChapterError(f"{where}{_key(sorted(keys)[0])}: unknown {what}")


def _is_number(v: Any) -> bool:
    """A finite int or float (TOML's nan/inf and booleans are not positions or angles)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ChapterError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _camera(value: Any, where: str) -> str | dict:
    if isinstance(value, str):
        if value not in CAMERA_PRESETS:
            raise ChapterError(f"{where}: unknown preset {value!r} ({', '.join(CAMERA_PRESETS)})")
        return value
    if not isinstance(value, dict):
        raise ChapterError(f"{where}: expected a preset name or a table")
    allowed = {"frame", "yaw", "pitch", "margin", "target", "distance", "fov"}
    _unknown(set(value) - allowed, f"{where}.", "camera field")
    if "frame" not in value and "target" not in value:
        raise ChapterError(f"{where}: needs 'frame' (tensor globs) or 'target'")
    if "frame" in value:
        _strs(value["frame"], f"{where}.frame")
    for key in ("yaw", "pitch", "margin", "distance", "fov"):
        if key in value and not _is_number(value[key]):
            raise ChapterError(f"{where}.{key}: expected a finite number")
    if "target" in value:
        t = value["target"]
        if not (isinstance(t, list) and len(t) == 3 and all(_is_number(v) for v in t)):
            raise ChapterError(f"{where}.target: expected [x, y, z], three finite numbers")
        if "distance" not in value:
            raise ChapterError(f"{where}: 'target' needs 'distance'")
    return dict(value)


def _animation(value: Any, where: str) -> Animation:
    if not isinstance(value, dict):
        raise ChapterError(f"{where}: expected a table")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in ANIMATIONS:
        raise ChapterError(f"{where}.kind: expected one of {', '.join(ANIMATIONS)}, got {kind!r}")
    fields = {k: v for k, v in value.items() if k != "kind"}
    spec: dict[str, type] = ANIMATIONS[kind]
    for key, v in fields.items():
        expected = spec.get(key)
        if expected is None:
            raise ChapterError(f"{where}.{_key(key)}: not a field of a {kind!r} animation")
        if not isinstance(v, expected):
            raise ChapterError(f"{where}.{key}: expected a {expected.__name__}")
    for key in REQUIRED_ANIMATION_FIELDS.get(kind, ()):
        if key not in fields:
            raise ChapterError(f"{where}.{key}: required for a {kind!r} animation")
    if kind == "reveal":
        _strs(fields["tensors"], f"{where}.tensors")
        if fields.get("order", "columns") not in REVEAL_ORDERS:
            raise ChapterError(f"{where}.order: expected one of {', '.join(REVEAL_ORDERS)}")
        if fields.get("numbers", "ids") not in ("ids", "positions"):
            raise ChapterError(f"{where}.numbers: expected ids or positions")
    if fields.get("sweep", "temperature") not in ("temperature", "top_k"):
        raise ChapterError(f"{where}.sweep: expected temperature or top_k")
    if kind == "dot":
        cell = fields["cell"]
        if not (len(cell) == 2 and all(type(c) is int and c >= 0 for c in cell)):
            raise ChapterError(f"{where}.cell: expected [row, col], two integers >= 0")
    return Animation(kind, fields)


CHAPTER_FIELDS = {"id", "title", "model", "revealed", "steps"}
STEP_FIELDS = {
    "title",
    "text",
    "duration",
    "t",
    "camera",
    "camera_end",
    "show",
    "fade",
    "highlight",
    "model",
    "animation",
}


def _step(value: Any, where: str) -> Step:
    if not isinstance(value, dict):
        raise ChapterError(f"{where}: expected a table")
    _unknown(set(value) - STEP_FIELDS, f"{where}.", "step field")
    for key in ("title", "text"):
        if not isinstance(value.get(key), str) or not value[key].strip():
            raise ChapterError(f"{where}.{key}: required, a non-empty string")
    kwargs: dict[str, Any] = {"title": value["title"], "text": value["text"].strip()}
    if "duration" in value:
        d = value["duration"]
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not 0.1 <= d <= MAX_DURATION:
            raise ChapterError(
                f"{where}.duration: expected seconds between 0.1 and {MAX_DURATION:g}"
            )
        kwargs["duration"] = float(d)
    if "t" in value:
        if not isinstance(value["t"], int) or isinstance(value["t"], bool) or value["t"] < 0:
            raise ChapterError(f"{where}.t: expected a token position >= 0")
        kwargs["t"] = value["t"]
    for key in ("camera", "camera_end"):
        if key in value:
            kwargs[key] = _camera(value[key], f"{where}.{key}")
    for key in ("show", "fade", "highlight"):
        if key in value:
            kwargs[key] = _strs(value[key], f"{where}.{key}")
    if "model" in value:
        if not isinstance(value["model"], str):
            raise ChapterError(f"{where}.model: expected a preset name")
        kwargs["model"] = value["model"]
    if "animation" in value:
        kwargs["animation"] = _animation(value["animation"], f"{where}.animation")
    return Step(**kwargs)


def _read_regular(path: Path, name: str) -> bytes:
    """A chapter file's bytes: a FIFO, device or folder named *.toml is refused without a
    blocking open, and a file over MAX_FILE_BYTES unread (model/files.py does both)."""
    try:
        return read_limited(path, MAX_FILE_BYTES, "a chapter file")
    except FileProblem as e:  # its line names the whole path; the chapter's name is enough
        raise ChapterError(f"{name}: {str(e).removeprefix(f'{path}: ')}") from None


def load_chapter(path: Path) -> Chapter:
    path = Path(path)
    name = _key(path.name)  # a file name holding a newline must not break the line
    try:
        data = tomllib.loads(_read_regular(path, name).decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ChapterError(f"{name}: invalid TOML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise ChapterError(f"{name}: invalid TOML (nested too deeply)") from None
    except UnicodeDecodeError:
        raise ChapterError(f"{name}: not UTF-8 text") from None
    except OSError as e:
        raise ChapterError(f"{name}: cannot read ({e.strerror})") from None
    _unknown(set(data) - CHAPTER_FIELDS, f"{name}: ", "chapter field")
    for key in ("id", "title"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ChapterError(f"{name}: {key}: required, a non-empty string")
    if not data["id"].replace("-", "").isalnum() or data["id"] != data["id"].lower():
        raise ChapterError(f"{name}: id: use lower-case letters, digits and '-'")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ChapterError(f"{name}: steps: at least one [[steps]] table is required")
    revealed = _strs(data["revealed"], f"{name}: revealed") if "revealed" in data else ("*",)
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ChapterError(f"{name}: model: expected a preset name")
    return Chapter(
        id=data["id"],
        title=data["title"],
        steps=tuple(_step(s, f"{name}: steps[{k}]") for k, s in enumerate(steps)),
        path=path,
        model=model,
        revealed=revealed,
    )


@dataclass
class ChapterSet:
    chapters: list[Chapter]
    errors: list[str]  # one line per file that could not be loaded

    def by_id(self, chapter_id: str) -> Chapter:
        for c in self.chapters:
            if c.id == chapter_id:
                return c
        raise KeyError(chapter_id)


def load_chapters(directory: Path | None = None) -> ChapterSet:
    """Every *.toml in the folder, in name order; broken files are reported, not fatal."""
    directory = directory or walkthrough_dir()
    chapters, errors, seen = [], [], set()
    for path in sorted(directory.glob("*.toml")):
        try:
            chapter = load_chapter(path)
        except ChapterError as e:
            errors.append(str(e))
            continue
        if chapter.id in seen:
            errors.append(f"{_key(path.name)}: id: {chapter.id!r} is used by another chapter")
            continue
        seen.add(chapter.id)
        chapters.append(chapter)
    return ChapterSet(chapters, errors)


def unknown_tensors(chapter: Chapter, scene_of: Callable[[str | None], Scene]) -> list[str]:
    """One line per tensor name or glob of a chapter that names no box of the scene its step
    shows (the names the model's table of activations gives, model/activations.py).

    scene_of(model) is the scene of a step's model (None: the app's own). Checked: revealed,
    show, fade, highlight, camera frames, text links, and each animation's tensors: a dot's
    tensor names one box, a softmax's an attention head's tensor, a layernorm's prefix a
    layer norm."""
    name = _key(chapter.path.name)
    problems: list[str] = []

    def check(scene: Scene, where: str, globs) -> None:
        for glob in globs:
            if not any(fnmatch.fnmatchcase(box.name, glob) for box in scene.boxes):
                problems.append(f"{name}: {where}: {glob!r} names no tensor of the model")

    check(scene_of(chapter.model), "revealed", chapter.revealed)
    for k, step in enumerate(chapter.steps):
        scene, where = scene_of(step.model or chapter.model), f"steps[{k}]"
        for key in ("show", "fade", "highlight"):
            check(scene, f"{where}.{key}", getattr(step, key))
        for key in ("camera", "camera_end"):
            spec = getattr(step, key)
            if isinstance(spec, dict) and "frame" in spec:
                check(scene, f"{where}.{key}.frame", spec["frame"])
        for globs in links(step.text):
            check(scene, f"{where}.text", globs)
        a, at = step.animation, f"{where}.animation"
        if a.kind in ("reveal", "compare", "glow"):
            check(scene, f"{at}.tensors", a.get("tensors"))
        lens = a.get("lens")
        if lens is not None and lens not in scene:
            problems.append(f"{name}: {at}.lens: no tensor {lens!r} in the model")
        tensor = a.get("tensor")
        if a.kind in ("dot", "softmax", "add", "gelu", "weighted") and tensor not in scene:
            problems.append(f"{name}: {at}.tensor: no tensor {tensor!r} in the model")
        elif a.kind in ("softmax", "weighted") and not all(
            n in scene for n in scene.softmax_boxes(tensor)
        ):
            problems.append(f"{name}: {at}.tensor: {tensor!r} is not an attention head's")
        if a.kind == "layernorm" and scene.layer_norm_boxes(a.get("prefix")) is None:
            problems.append(f"{name}: {at}.prefix: {a.get('prefix')!r} is not a layer norm")
    return problems
