"""Chat sessions: metadata, preferences, and the partial updates clients send."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.ids import SessionId, UserId

__all__ = [
    "DEFAULT_SESSION_TITLE",
    "SessionMetadata",
    "SessionPreferences",
    "SessionStatus",
    "SessionUpdate",
    "fallback_title",
]

DEFAULT_SESSION_TITLE = "New Conversation"
_TITLE_MAX = 50


class SessionStatus(StrEnum):
    """Lifecycle of a session; only `active` sessions are listed.

    `deleted` is final: a deleted session is never listed, served or continued, and no update brings it
    back (see `SessionMetadata`).
    """

    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class SessionPreferences(CamelModel):
    """Per-session choices. Unknown keys are kept so newer clients do not lose data."""

    model_config = ConfigDict(extra="allow")

    last_model: str | None = None
    last_temperature: float | None = None
    enabled_tools: list[str] | None = None
    selected_prompt_id: str | None = None
    custom_prompt_text: str | None = None
    assistant_id: str | None = None
    system_prompt_hash: str | None = None


class SessionMetadata(CamelModel):
    """A session as stored. `version` grows on every write and guards conditional updates."""

    session_id: SessionId
    user_id: UserId
    title: str = DEFAULT_SESSION_TITLE
    status: SessionStatus = SessionStatus.ACTIVE
    created_at: datetime = Field(default_factory=utc_now)
    last_message_at: datetime | None = None
    message_count: int = Field(default=0, ge=0)
    """Number of completed turns, as the original counted it."""
    starred: bool = False
    tags: list[str] = Field(default_factory=list)
    preferences: SessionPreferences = Field(default_factory=SessionPreferences)
    deleted: bool = False
    """Whether the session is deleted; always equal to `status == "deleted"` (one rule, two fields for
    the wire, which carries both)."""
    deleted_at: datetime | None = None
    version: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_deletion_rule(self) -> SessionMetadata:
        """Either mark means deleted, so `deleted` and `status` can never disagree."""
        if self.deleted or self.status is SessionStatus.DELETED:
            self.deleted = True
            self.status = SessionStatus.DELETED
        return self

    @property
    def sort_time(self) -> datetime:
        """The time "newest first" listings order by."""
        return self.last_message_at or self.created_at


class SessionUpdate(CamelModel):
    """A partial change: `None` leaves a field alone; preference fields merge one by one."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: SessionStatus | None = None
    starred: bool | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    preferences: dict[str, Any] = Field(default_factory=dict)
    """camelCase preference keys to set (merged field by field, never replacing the whole map)."""

    def deletes(self) -> bool:
        """Whether this update deletes the session (`status: "deleted"`), which is final."""
        return self.status is SessionStatus.DELETED

    def is_empty(self) -> bool:
        """True when applying this update would change nothing."""
        return not self.preferences and all(
            value is None for value in (self.title, self.status, self.starred, self.tags)
        )


def fallback_title(text: str) -> str:
    """A title from the first words of `text`: at most 50 characters, cut at a word boundary."""
    words = " ".join(text.split())
    if not words:
        return DEFAULT_SESSION_TITLE
    if len(words) <= _TITLE_MAX:
        return words
    cut = words[: _TITLE_MAX + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else words[:_TITLE_MAX]
    return head[:_TITLE_MAX].rstrip(" ,.;:-")
