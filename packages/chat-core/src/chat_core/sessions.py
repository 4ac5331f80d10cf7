"""Chat sessions: metadata, preferences, and the partial updates clients send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_core.limits import (
    ENABLED_TOOLS_MAX,
    ID_MAX_CHARS,
    INSTRUCTIONS_MAX_CHARS,
    PREFERENCES_MAX_BYTES,
    PREFERENCES_MAX_KEYS,
    SESSION_TAGS_MAX,
    DisplayName,
    ShortText,
    Tag,
    clean_display_name,
)

__all__ = [
    "DEFAULT_SESSION_TITLE",
    "SessionMetadata",
    "SessionPreferences",
    "SessionStatus",
    "SessionUpdate",
    "fallback_title",
    "merge_preferences",
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
    """Per-session choices. Unknown keys are kept so newer clients do not lose data.

    Within bounds: at most 64 keys and 192 KiB of JSON in all (`chat_core.limits`).
    """

    model_config = ConfigDict(extra="allow")

    last_model: ShortText | None = None
    last_temperature: float | None = None
    enabled_tools: list[ShortText] | None = Field(default=None, max_length=ENABLED_TOOLS_MAX)
    selected_prompt_id: ShortText | None = None
    custom_prompt_text: str | None = Field(default=None, max_length=INSTRUCTIONS_MAX_CHARS)
    assistant_id: str | None = Field(default=None, max_length=ID_MAX_CHARS)
    system_prompt_hash: str | None = Field(default=None, max_length=ID_MAX_CHARS)

    @model_validator(mode="after")
    def _bounded(self) -> SessionPreferences:
        if not self.model_fields_set and not self.model_extra:
            return self  # nothing set, as in most sessions
        declared = {name for name in self.model_fields_set if getattr(self, name) is not None}
        keys = len(declared | set(self.model_extra or {}))
        if keys > PREFERENCES_MAX_KEYS:
            raise ValueError(f"at most {PREFERENCES_MAX_KEYS} preferences may be set, not {keys}")
        if not self.model_extra and self._declared_size_bound() <= PREFERENCES_MAX_BYTES:
            # Every stored session is validated on every read: most never come near the bound, and
            # writing their JSON to measure it was most of what validating a listing cost.
            return self
        size = len(self.model_dump_json(by_alias=True, exclude_unset=True, exclude_none=True).encode())
        if size > PREFERENCES_MAX_BYTES:
            raise ValueError(
                f"the preferences take {size} bytes; at most {PREFERENCES_MAX_BYTES} may be stored"
            )
        return self

    def _declared_size_bound(self) -> int:
        """Bytes the declared fields' JSON takes at most, from their lengths alone."""
        return 2 + sum(
            _KEY_BYTES_BOUND + _json_size_bound(value)
            for value in (getattr(self, name) for name in type(self).model_fields)
            if value is not None
        )


_KEY_BYTES_BOUND = 32
"""A declared preference's quoted camelCase name, colon and comma (the longest name has 16 characters)."""


def _json_size_bound(value: object) -> int:
    """Bytes of `value`'s JSON at most: 6 per character (the longest escape), 32 per number."""
    if isinstance(value, str):
        return 6 * len(value) + 2
    if isinstance(value, list):
        return 2 + sum(_json_size_bound(item) + 1 for item in value)
    return 32


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

    title: DisplayName | None = None
    status: SessionStatus | None = None
    starred: bool | None = None
    tags: list[Tag] | None = Field(default=None, max_length=SESSION_TAGS_MAX)
    preferences: dict[str, Any] = Field(default_factory=dict, max_length=PREFERENCES_MAX_KEYS)
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
    """A title from the first words of `text`: at most 50 characters, cut at a word boundary.

    Control and bidirectional formatting characters are left out, as from every display name.
    """
    words = " ".join(_visible(text).split())
    if not words:
        return DEFAULT_SESSION_TITLE
    if len(words) <= _TITLE_MAX:
        return words
    cut = words[: _TITLE_MAX + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else words[:_TITLE_MAX]
    return head[:_TITLE_MAX].rstrip(" ,.;:-")


def merge_preferences(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`stored` (camelCase JSON values) with `changes` applied key by key, within the bounds.

    Raises:
        InvalidInputError: the merged preferences would exceed 64 keys or 128 KiB (field `preferences`).
    """
    merged = dict(stored) | dict(changes)
    try:
        SessionPreferences.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInputError(
            f"The session's preferences would exceed {PREFERENCES_MAX_KEYS} keys or "
            f"{PREFERENCES_MAX_BYTES} bytes.",
            field="preferences",
            detail={"maxKeys": PREFERENCES_MAX_KEYS, "maxBytes": PREFERENCES_MAX_BYTES},
        ) from exc
    return merged


def _visible(text: str) -> str:
    try:
        return clean_display_name(text)
    except ValueError:  # JUSTIFICATION: nothing visible in the text: the default title is used.
        return ""
