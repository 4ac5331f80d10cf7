"""HTTP shapes of `/chat/generate-title` (snake_case, as the original's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TitleRead", "TitleRequest"]


class TitleRequest(BaseModel):
    """`GenerateTitleRequest`; only the first 2,000 characters of `input` are read."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=1, max_length=128)
    input: str = Field(max_length=200_000)


class TitleRead(BaseModel):
    """`GenerateTitleResponse`."""

    title: str
    session_id: str
