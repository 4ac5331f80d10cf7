"""`GET /ping`, the AgentCore Runtime's health check as its contract defines it, and `GET /ready`.

`/ping` never touches storage or a model: the runtime polls it, and a storage hiccup must not make it
reclaim a container that is serving. `/ready` is for load balancers and orchestrators outside the
runtime: a storage round trip within `CHAT_HEALTH_TIMEOUT`, as app-api's `/health`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from chat_http.errors import error_responses
from chat_http.health import check_storage
from chat_http.runtime import PingStatus
from inference_api.dependencies import StateDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


class PingRead(BaseModel):
    """The runtime contract's answer."""

    status: PingStatus
    """`HealthyBusy` while turns run (those whose client disconnected included), else `Healthy`."""
    time_of_last_update: int
    """When the status last changed, in Unix seconds."""


@router.get("/ping", response_model=PingRead, summary="Runtime health check")
async def ping(state: StateDep) -> PingRead:
    """Public and cheap (no storage, no model): whether the process is idle or busy with turns."""
    runtime = state.runtime_status
    return PingRead(status=runtime.status, time_of_last_update=runtime.changed_at)


class ReadyRead(BaseModel):
    """The service can serve turns: its storage answered in time."""

    status: Literal["ready"] = "ready"
    storage: str
    """The storage backend that answered (`sqlite` or `aws`)."""


@router.get("/ready", response_model=ReadyRead, summary="Readiness probe", responses=error_responses(503))
async def read_ready(state: StateDep) -> ReadyRead:
    """Public. 503 with the error body when storage fails or does not answer within `CHAT_HEALTH_TIMEOUT`."""
    await check_storage(state.storage, within=state.settings.health_timeout)
    return ReadyRead(storage=state.storage.backend)
