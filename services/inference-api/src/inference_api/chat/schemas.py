"""The request body of `POST /invocations`, with the original's snake_case field names.

Static bounds live here; the configurable limits (message length, files per message, file size) are
checked by the service against the settings, and both fail as 422 with the error body.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chat_core.limits import ID_MAX_CHARS, FileName, ShortText

__all__ = ["FileContent", "InvocationRequest"]

_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}$"
_HARD_MAX_CHARS: Final = 1_000_000
_HARD_MAX_FILES: Final = 20
_HARD_MAX_BASE64_CHARS: Final = 64 * 1024 * 1024


class FileContent(BaseModel):
    """A file sent inline, base64-encoded (the frontend's `FileContent`)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    filename: FileName
    content_type: str = Field(min_length=1, max_length=255)
    data: str = Field(alias="bytes", min_length=1, max_length=_HARD_MAX_BASE64_CHARS)
    """The file's content, base64."""


class InvocationRequest(BaseModel):
    """One chat turn, as the AgentCore Runtime contract carries it."""

    model_config = ConfigDict(extra="ignore")

    session_id: str = Field(pattern=_ID_PATTERN)
    message: str = Field(min_length=1, max_length=_HARD_MAX_CHARS)
    model_id: str | None = Field(default=None, min_length=1, max_length=256)
    """A managed model's `modelId`; the configured default when omitted."""
    temperature: float | None = Field(default=None, ge=0, le=1)
    system_prompt: str | None = Field(default=None, min_length=1, max_length=_HARD_MAX_CHARS)
    """Replaces the default system prompt (an assistant's instructions are still added)."""
    caching_enabled: bool | None = None
    """Prompt caching (Bedrock); the managed model's `supportsCaching` when omitted."""
    enabled_tools: list[ShortText] | None = Field(default=None, max_length=20)
    files: list[FileContent] | None = Field(default=None, max_length=_HARD_MAX_FILES)
    file_upload_ids: list[Annotated[str, Field(max_length=ID_MAX_CHARS)]] | None = Field(
        default=None, max_length=_HARD_MAX_FILES
    )
    provider: str | None = Field(default=None, max_length=64)
    """Accepted for compatibility and ignored: the managed model decides its provider."""
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    assistant_id: str | None = Field(default=None, pattern=_ID_PATTERN)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value
