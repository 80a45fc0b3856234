"""OpenGL context creation and checks."""

from __future__ import annotations

import moderngl

REQUIRED_GL = 330
MSAA_SAMPLES = 4  # multisample anti-aliasing asked for where the driver offers it


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


def max_samples(ctx: moderngl.Context) -> int:
    """GL_MAX_SAMPLES, or 0 when the driver does not say (or offers no multisampling)."""
    try:
        n = int(ctx.info.get("GL_MAX_SAMPLES") or getattr(ctx, "max_samples", 0) or 0)
    except Exception:  # an odd driver answer means no multisampling, never a failure
        return 0
    return max(n, 0)


def msaa_samples(ctx: moderngl.Context, wanted: int = MSAA_SAMPLES) -> int:
    """The sample count to ask for: `wanted` capped by the driver; 0 (none) below 2."""
    n = min(wanted, max_samples(ctx))
    return n if n >= 2 else 0
