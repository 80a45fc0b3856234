"""The one loader of GL programs: shaders/<name>.glsl compiled with moderngl."""

from __future__ import annotations

import moderngl

from .shader_source import ShaderSourceError, load_source


def load_program(ctx: moderngl.Context, name: str) -> moderngl.Program:
    source = load_source(name)
    try:
        return ctx.program(
            vertex_shader=source.stages["VERTEX_SHADER"],
            geometry_shader=source.stages.get("GEOMETRY_SHADER"),
            fragment_shader=source.stages["FRAGMENT_SHADER"],
        )
    except moderngl.Error as e:
        first = next((ln for ln in str(e).splitlines() if "error" in ln.lower()), str(e))
        raise ShaderSourceError(f"shader {name}: {source.locate(first.strip())}") from None
