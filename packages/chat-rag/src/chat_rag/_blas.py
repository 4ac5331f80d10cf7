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

import threadpoolctl  # type: ignore[import-untyped]  # ships no type hints

__all__ = ["blas_threads"]

_lock = threading.Lock()
_active: Counter[int] = Counter()
"""Thread counts asked for by the blocks now running."""
_first: list[Any] = []
"""The limiter of the first active block: it holds the original setting to restore."""


@functools.cache
def _controller() -> Any:
    # Created on first use, after NumPy has loaded its BLAS library (the controller lists loaded ones).
    return threadpoolctl.ThreadpoolController()


def _release_control() -> None:
    # threadpoolctl >= 3.8 lets one Python thread at a time change OpenBLAS's process-wide pool and
    # silently ignores the others (the first to set it keeps control until it leaves a `with` block).
    # Our changes come from whichever worker thread enters or leaves a block, serialised by _lock,
    # so hand control back after each one.
    clear = getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _limit(count: int) -> Any:
    """Set the limit now from this thread; the returned limiter restores what was set before."""
    _release_control()
    limiter = _controller().limit(limits=count, user_api="blas")
    _release_control()
    return limiter


def _restore(limiter: Any) -> None:
    _release_control()
    limiter.restore_original_limits()
    _release_control()


@contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run the block with at most `count` BLAS threads (about 12 microseconds of overhead)."""
    with _lock:
        if not _active:
            _first.append(_limit(count))
        elif count < min(_active):
            _limit(count)
        _active[count] += 1
    try:
        yield
    finally:
        with _lock:
            _active[count] -= 1
            if not _active[count]:
                del _active[count]
            if _active:
                _limit(min(_active))
            else:
                _restore(_first.pop())
