"""The probes' storage round trip: one `ping` within a short deadline of the probe's own.

A load balancer or orchestrator polls a probe: it must answer quickly whatever storage does, so the
probe's deadline (`CHAT_HEALTH_TIMEOUT`) is shorter than a data request's (`CHAT_AWS_DEADLINE`).
"""

from __future__ import annotations

import asyncio

from chat_core.errors import UnavailableError
from chat_storage import Storage

__all__ = ["check_storage"]


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
