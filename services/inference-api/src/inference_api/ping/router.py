"""`GET /ping`: the AgentCore Runtime liveness probe."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

__all__ = ["router"]

router = APIRouter(tags=["health"])


class PingRead(BaseModel):
    """The runtime contract's answer."""

    status: Literal["healthy"] = "healthy"


@router.get("/ping", response_model=PingRead, summary="Liveness probe")
async def ping() -> PingRead:
    """Public; answers as soon as the process serves requests."""
    return PingRead()
