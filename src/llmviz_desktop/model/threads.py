"""BLAS thread and allocator tuning for the training loop.

BLAS threads: nano-sort's matrices are tiny: extra BLAS threads only add
synchronisation, and on a busy 2-core machine they slow a training step down ~6x. One thread
also makes training results independent of the machine's core count."""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache


@cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_blas_thread() -> AbstractContextManager:
    return _controller().limit(limits=1, user_api="blas")


@cache
def tune_allocator() -> bool:
    """Keep glibc from returning freed trace buffers to the OS after every step.

    A training step allocates and frees the same few MB of activations each time; with glibc's
    defaults, blocks over the mmap threshold are unmapped on free and page-fault again on the
    next step (measured: ~1000 faults a step, ~60k per 729-input evaluation). Raising the mmap
    and trim thresholds keeps that memory in the heap for reuse. glibc only; elsewhere a no-op.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    ok = mallopt(m_mmap_threshold, 64 << 20) == 1
    ok &= mallopt(m_trim_threshold, 256 << 20) == 1
    ok &= mallopt(m_top_pad, 16 << 20) == 1
    return bool(ok)


def release_free_memory() -> None:
    """Return freed heap memory to the OS (glibc malloc_trim); a no-op elsewhere. Called after
    the one-off big allocations of loading a large model's values."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        if name:
            ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        pass
