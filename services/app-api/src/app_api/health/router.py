"""`GET /health`: is the service up, can it reach its storage in time, and has its disk room to write.

Public, so it names no dependency versions.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app_api.dependencies import SettingsDep, StorageDep
from app_api.health import service

__all__ = ["router"]

router = APIRouter(tags=["health"])


class StorageHealth(BaseModel):
    """The storage backend and whether a round trip to it just worked."""

    backend: str
    reachable: bool


class HealthRead(BaseModel):
    """Health report; served with 200 when healthy, inside a 503 error body otherwise."""

    status: Literal["healthy"]
    service: str
    version: str
    storage: StorageHealth


@router.get("/health", response_model=HealthRead, summary="Service health")
async def read_health(storage: StorageDep, settings: SettingsDep) -> HealthRead:
    """Public. 503 with the error body when storage fails or is slow, or the data disk is full.

    Storage has `CHAT_HEALTH_TIMEOUT` seconds to answer; "full" is less than `CHAT_HEALTH_MIN_FREE_BYTES`.
    """
    service.check_data_dir(settings.data_dir, min_free_bytes=settings.health_min_free_bytes)
    await service.check_storage(storage, within=settings.health_timeout)
    return HealthRead(
        status="healthy",
        service="app-api",
        version=version("app-api"),
        storage=StorageHealth(backend=storage.backend, reachable=True),
    )
