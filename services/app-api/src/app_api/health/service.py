"""Health: storage answers within a short deadline of its own, and the data directory has room to write.

A load balancer polls this: it must answer quickly whatever storage does, and say "unhealthy" while
writes would fail for want of disk space, not only when storage is unreachable.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from chat_core.errors import UnavailableError
from chat_storage import Storage

__all__ = ["check_data_dir", "check_storage"]


async def check_storage(storage: Storage, *, within: float) -> None:
    """One round trip to storage within `within` seconds.

    Raises:
        UnavailableError: storage failed, or did not answer in time (503).
    """
    try:
        async with asyncio.timeout(within):
            await storage.ping()
    except TimeoutError as exc:
        raise UnavailableError(f"Storage did not answer within {within:g} s.") from exc


def check_data_dir(data_dir: Path, *, min_free_bytes: int) -> None:
    """The data directory's file system has at least `min_free_bytes` free (checked when it exists).

    Raises:
        UnavailableError: the disk is full (503): the SQLite database, blobs and knowledge index there
            could not take another write.
    """
    try:
        free = shutil.disk_usage(data_dir).free
    except FileNotFoundError:  # JUSTIFICATION: nothing is stored there yet (aws backend): nothing to fill.
        return
    if free < min_free_bytes:
        raise UnavailableError(
            f"The data directory's disk is full: {free} bytes free, at least {min_free_bytes} needed.",
            retry_after=60,
            detail={"freeBytes": free, "minFreeBytes": min_free_bytes},
        )
