"""`GET /health`: is the service up and can it reach its storage (public: no dependency versions)."""

from __future__ import annotations

from importlib.metadata import version
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app_api.dependencies import StorageDep

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
async def read_health(storage: StorageDep) -> HealthRead:
    """Public. 503 with the error body when storage cannot be reached."""
    await storage.ping()
    return HealthRead(
        status="healthy",
        service="app-api",
        version=version("app-api"),
        storage=StorageHealth(backend=storage.backend, reachable=True),
    )
