"""The base of every HTTP shape: snake_case in Python, the camelCase names the frontend speaks on the wire."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["ApiModel"]


class ApiModel(BaseModel):
    """Request and response bodies; unknown request fields are refused so typos do not pass silently."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
