"""Health: storage answers within a short deadline of its own, and the data directory has room to write.

A load balancer polls this: it must answer quickly whatever storage does, and say "unhealthy" while
writes would fail for want of disk space, not only when storage is unreachable. The storage round trip
is the edge's (`chat_http.health.check_storage`), shared with inference-api's readiness probe.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chat_core.errors import UnavailableError
from chat_http.health import check_storage

__all__ = ["check_data_dir", "check_storage"]


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
