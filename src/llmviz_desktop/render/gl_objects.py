"""Live GL object counts, found by asking the driver (glIs*), independent of moderngl's own
bookkeeping: a leak check for tests and the soak benchmark.

Names are probed one by one from 1 up to a bound that adapts:

- the highest live name seen by an earlier count on this context, and
- the driver's next free name, learnt by generating one name and deleting it at once
  (glGen*/glCreateProgram then glDelete*). Mesa hands out names upward and does not reuse freed
  ones soon (llvmpipe, Mesa 22: release texture 3, the next texture is still max + 1), so after
  many create/release cycles the live objects sit far above the low names; this probe keeps
  them in range. The throw-away name is never bound, so no state changes.

plus MARGIN names above that. Programs and shaders share one name space; a program that was
deleted while still current answers glIsProgram until unbound, so its GL_DELETE_STATUS is read
and it is not counted.

Cost: one ctypes call per probed name and kind, about 0.3-1 µs each on llvmpipe; with six kinds
and names up to N that is ~6 N calls (N = 2,000: ~5-10 ms). The bound grows with the number of
objects ever created on the context (Mesa's monotonic names), not with the live count, so
sample every few dozen frames rather than every frame.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable

import moderngl

MARGIN = 64  # names probed beyond the highest known or next free one
KINDS = ("buffers", "textures", "vertex_arrays", "programs", "framebuffers", "renderbuffers")
_SUFFIX = {
    "buffers": "Buffer",
    "textures": "Texture",
    "vertex_arrays": "VertexArray",
    "framebuffers": "Framebuffer",
    "renderbuffers": "Renderbuffer",
}
GL_DELETE_STATUS = 0x8B80

_IS = ctypes.CFUNCTYPE(ctypes.c_ubyte, ctypes.c_uint)
_GEN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_uint))
_CREATE_PROGRAM = ctypes.CFUNCTYPE(ctypes.c_uint)
_DELETE_PROGRAM = ctypes.CFUNCTYPE(None, ctypes.c_uint)
_GET_PROGRAMIV = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_int))


class GLObjectCounter:
    """Counts live GL objects of one context; keeps the highest names seen between calls."""

    def __init__(self, ctx: moderngl.Context, margin: int = MARGIN):
        self.margin = margin
        load = ctx.mglo._context.load_opengl_function  # the loader moderngl itself uses

        def fn(proto, name: str):
            address = load(name)
            if not address:
                raise RuntimeError(f"{name} is not available in this GL context")
            return proto(address)

        self._is: dict[str, Callable[[int], int]] = {}
        self._next: dict[str, Callable[[], int]] = {}
        for kind, suffix in _SUFFIX.items():
            self._is[kind] = fn(_IS, f"glIs{suffix}")
            gen = fn(_GEN, f"glGen{suffix}s")
            delete = fn(_GEN, f"glDelete{suffix}s")
            self._next[kind] = self._gen_probe(gen, delete)
        self._is["programs"] = fn(_IS, "glIsProgram")
        create, delete_program = (
            fn(_CREATE_PROGRAM, "glCreateProgram"),
            fn(_DELETE_PROGRAM, "glDeleteProgram"),
        )

        def next_program() -> int:
            name = int(create())
            delete_program(name)
            return name

        self._next["programs"] = next_program
        self._get_programiv = fn(_GET_PROGRAMIV, "glGetProgramiv")
        self.high: dict[str, int] = dict.fromkeys(KINDS, 0)  # highest live name seen so far
        self.probed: dict[str, int] = dict.fromkeys(KINDS, 0)  # last bound used (for reports)

    @staticmethod
    def _gen_probe(gen, delete) -> Callable[[], int]:
        def probe() -> int:
            name = ctypes.c_uint(0)
            gen(1, ctypes.byref(name))
            delete(1, ctypes.byref(name))
            return int(name.value)

        return probe

    def _live_program(self, name: int) -> bool:
        if not self._is["programs"](name):
            return False
        status = ctypes.c_int(0)
        self._get_programiv(name, GL_DELETE_STATUS, ctypes.byref(status))
        return not status.value

    def __call__(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind in KINDS:
            bound = max(self.high[kind], self._next[kind]()) + self.margin
            live = self._live_program if kind == "programs" else self._is[kind]
            names = [n for n in range(1, bound + 1) if live(n)]
            counts[kind] = len(names)
            if names:
                self.high[kind] = max(self.high[kind], names[-1])
            self.probed[kind] = bound
        return counts


_counters: weakref.WeakKeyDictionary[moderngl.Context, GLObjectCounter] = (
    weakref.WeakKeyDictionary()
)


def gl_object_counts(ctx: moderngl.Context) -> dict[str, int]:
    """Live buffers, textures, vertex arrays, programs, framebuffers and renderbuffers of the
    current context `ctx` (see the module notes for how, and what it costs). The probe
    functions and the highest names seen are kept per context between calls."""
    counter = _counters.get(ctx)
    if counter is None:
        counter = _counters[ctx] = GLObjectCounter(ctx)
    return counter()


__all__ = ["GLObjectCounter", "KINDS", "MARGIN", "gl_object_counts"]
