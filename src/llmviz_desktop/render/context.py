"""OpenGL context creation and checks."""

from __future__ import annotations

import moderngl

REQUIRED_GL = 330


class GLUnavailable(RuntimeError):
    """No usable OpenGL 3.3 context; the message is one line for the user."""


def headless_context() -> moderngl.Context:
    """A standalone EGL context: no display needed (software llvmpipe works)."""
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=REQUIRED_GL)  # type: ignore[arg-type]  # stub says dict
    except Exception as e:  # moderngl raises plain Exception subclasses per backend
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise GLUnavailable(
            f"cannot create an OpenGL {REQUIRED_GL // 100}.{REQUIRED_GL % 100 // 10} context "
            f"through EGL ({first}); install Mesa (libegl1, libgl1-mesa-dri)"
        ) from None
    check_version(ctx)
    return ctx


def check_version(ctx: moderngl.Context) -> None:
    if ctx.version_code < REQUIRED_GL:
        raise GLUnavailable(
            f"OpenGL {ctx.version_code / 100:.1f} found, 3.3 core needed "
            f"({ctx.info.get('GL_RENDERER', 'unknown renderer')})"
        )
