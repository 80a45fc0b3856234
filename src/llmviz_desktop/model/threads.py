"""BLAS thread control. nano-sort's matrices are tiny: extra BLAS threads only add
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
