"""Shader sources: one .glsl file per program in shaders/, each stage selected by a define.

A file starts with `#version 330 core`; `#include "name.glsl"` pulls in a shared file. Each stage
is compiled with `#define VERTEX_SHADER` (or GEOMETRY_/FRAGMENT_SHADER) inserted after the
version line, and `#line` directives keep compiler messages pointing at the right file and line
(file numbers are listed in the error text). Pure string work: no GL here, so it is testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..resources import shaders_dir

STAGES = ("VERTEX_SHADER", "GEOMETRY_SHADER", "FRAGMENT_SHADER")
_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$')


class ShaderSourceError(RuntimeError):
    """A shader that cannot be built; the message names the file and line."""


@dataclass(frozen=True)
class ShaderSource:
    name: str
    files: tuple[Path, ...]  # index = the file number used in #line directives
    stages: dict[str, str]  # stage define -> full source

    def locate(self, message: str) -> str:
        """Rewrite a GL info log's `0(12)` / `0:12(3)` locations into `file.glsl:12`."""

        def repl(m: re.Match) -> str:
            idx, line = int(m.group(1)), m.group(2)
            name = self.files[idx].name if idx < len(self.files) else f"file {idx}"
            return f"{name}:{line}"

        return re.sub(r"\b(\d+)[:(](\d+)\)?(?:\(\d+\))?", repl, message)


def _expand(path: Path, files: list[Path], depth: int = 0) -> list[str]:
    if depth > 8:
        raise ShaderSourceError(f"{path}: #include nested too deeply")
    if path not in files:
        files.append(path)
    idx = files.index(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ShaderSourceError(f"{path}: cannot read shader ({e.strerror})") from None
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        m = _INCLUDE.match(line)
        if m:
            inc = path.parent / m.group(1)
            if not inc.is_file():
                raise ShaderSourceError(f"{path.name}:{n}: include {m.group(1)!r} not found")
            out.extend(_expand(inc, files, depth + 1))
            out.append(f"#line {n + 1} {idx}")
        elif line.lstrip().startswith("#version"):
            if depth:
                continue  # only the top file declares the version
            out.append(line)
        else:
            out.append(line)
    return out


def load_source(name: str, directory: Path | None = None) -> ShaderSource:
    """Read shaders/<name>.glsl and build the source of each stage it defines."""
    path = (directory or shaders_dir()) / f"{name}.glsl"
    if not path.is_file():
        raise ShaderSourceError(f"{path}: shader file not found")
    files: list[Path] = []
    lines = _expand(path, files)
    if not lines or not lines[0].startswith("#version"):
        raise ShaderSourceError(f"{path.name}:1: must start with a #version line")
    text = "\n".join(lines[1:])
    stages = {}
    for stage in STAGES:
        if re.search(rf"\b{stage}\b", text):
            stages[stage] = f"{lines[0]}\n#define {stage}\n#line 2 0\n{text}\n"
    if "VERTEX_SHADER" not in stages or "FRAGMENT_SHADER" not in stages:
        raise ShaderSourceError(f"{path.name}: needs VERTEX_SHADER and FRAGMENT_SHADER sections")
    return ShaderSource(name, tuple(files), stages)
