"""The one loader of GL programs: shaders/<name>.glsl compiled with moderngl."""

from __future__ import annotations

from pathlib import Path

import moderngl

from .shader_source import ShaderSourceError, load_source


def load_program(
    ctx: moderngl.Context, name: str, directory: Path | None = None
) -> moderngl.Program:
    """Compile shaders/<name>.glsl (or <directory>/<name>.glsl); errors name file and line."""
    source = load_source(name, directory)
    try:
        return ctx.program(
            vertex_shader=source.stages["VERTEX_SHADER"],
            geometry_shader=source.stages.get("GEOMETRY_SHADER"),
            fragment_shader=source.stages["FRAGMENT_SHADER"],
        )
    except moderngl.Error as e:
        first = next((ln for ln in str(e).splitlines() if "error" in ln.lower()), str(e))
        raise ShaderSourceError(f"shader {name}: {source.locate(first.strip())}") from None


def bind_block(program: moderngl.Program, name: str, binding: int) -> None:
    """Point the program's uniform block `name` at binding point `binding` (ubo.py)."""
    block = program[name]
    assert isinstance(block, moderngl.UniformBlock), name
    block.binding = binding
