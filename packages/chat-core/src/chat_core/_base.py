"""Shared pydantic configuration: snake_case in Python, camelCase on the wire."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["CamelModel"]


class CamelModel(BaseModel):
    """Base for every entity: JSON field names are the camelCase ones the frontend already speaks."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_json_dict(self) -> dict[str, Any]:
        """Serialise with camelCase aliases, as clients and stored documents see it."""
        return self.model_dump(mode="json", by_alias=True)
