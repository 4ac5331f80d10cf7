"""Bound the BLAS threads NumPy uses for a block of work.

OpenBLAS threads spin-wait for one another. On a host whose cores are busy with other work, a matrix
product split across threads waits for descheduled threads: measured here, a 2,000 x 384 product took
4.2 ms on two threads and 0.18 ms on one, and the MiniLM forward pass ran 4-8x slower. So chat-rag's
NumPy work runs with a configured thread count, one by default.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # ships no type hints

__all__ = ["blas_threads"]


@functools.cache
def _controller() -> ThreadpoolController:
    # Created on first use, after NumPy has loaded its BLAS library (the controller lists loaded ones).
    return ThreadpoolController()


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run the block with at most `count` BLAS threads (about 12 microseconds of overhead)."""
    with _controller().limit(limits=count, user_api="blas"):
        yield
