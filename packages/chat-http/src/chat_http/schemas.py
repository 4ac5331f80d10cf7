"""Shapes the edge returns that both services share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["CacheStats"]


class CacheStats(BaseModel):
    """The AppRole cache of one process (`GET /admin/roles/cache/stats`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

    role_count: int
    age_seconds: float | None
    ttl_seconds: float
    hits: int
    loads: int
    fresh: bool
