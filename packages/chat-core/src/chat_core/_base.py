"""Shared pydantic configuration: snake_case in Python, camelCase on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    """Base for every entity: JSON field names are the camelCase ones the frontend already speaks."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_json_dict(self) -> dict[str, Any]:
        """Serialise with camelCase aliases, as clients and stored documents see it."""
        return self.model_dump(mode="json", by_alias=True)


def utc_now() -> datetime:
    """Timezone-aware now; every timestamp the platform writes is UTC."""
    return datetime.now(UTC)
