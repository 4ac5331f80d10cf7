"""Bound the BLAS threads NumPy uses for a block of work.

OpenBLAS threads spin-wait for one another. On a host whose cores are busy with other work, a matrix
product split across threads waits for descheduled threads: measured here, a 2,000 x 384 product took
4.2 ms on two threads and 0.18 ms on one, and the MiniLM forward pass ran 4-8x slower. So chat-rag's
NumPy work runs with a configured thread count, one by default.

The limit is one setting for the whole process, while blocks run concurrently in worker threads (a
query is embedded while another search runs). So the blocks share it: while any is active the limit
is the smallest count asked for, and the original setting returns when the last one ends. (Plain
nested `threadpool_limits` would let the first block to end restore the original under the others.)
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # ships no type hints

__all__ = ["blas_threads"]

_lock = threading.Lock()
_active: Counter[int] = Counter()
"""Thread counts asked for by the blocks now running."""
_first: list[Any] = []
"""The limiter of the first active block: it holds the original setting to restore."""


@functools.cache
def _controller() -> ThreadpoolController:
    # Created on first use, after NumPy has loaded its BLAS library (the controller lists loaded ones).
    return ThreadpoolController()


def _apply_smallest() -> None:
    _controller().limit(limits=min(_active), user_api="blas")  # applies now; restored via _first


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run the block with at most `count` BLAS threads (about 12 microseconds of overhead)."""
    with _lock:
        if not _active:
            _first.append(_controller().limit(limits=count, user_api="blas"))
        elif count < min(_active):
            _controller().limit(limits=count, user_api="blas")
        _active[count] += 1
    try:
        yield
    finally:
        with _lock:
            _active[count] -= 1
            if not _active[count]:
                del _active[count]
            if _active:
                _apply_smallest()
            else:
                _first.pop().restore_original_limits()
