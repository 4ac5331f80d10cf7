"""HTTP shapes of the sessions routes (the original's names; `userId` is never returned)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app_api.schemas import ApiModel
from chat_core.messages import Citation, ContentBlock, Message, MessageMetadata, MessageStatus, Role
from chat_core.sessions import SessionMetadata, SessionPreferences, SessionStatus, SessionUpdate

__all__ = [
    "BulkDeleteItem",
    "BulkDeleteRead",
    "BulkDeleteRequest",
    "MessagePage",
    "MessageRead",
    "SessionPage",
    "SessionRead",
    "SessionUpdateRequest",
]

_PREFERENCE_FIELDS = (
    "last_model",
    "last_temperature",
    "enabled_tools",
    "selected_prompt_id",
    "custom_prompt_text",
    "assistant_id",
    "system_prompt_hash",
)


class SessionRead(ApiModel):
    """`SessionMetadataResponse`; `version` grows with every change."""

    session_id: str
    title: str
    status: SessionStatus
    created_at: datetime
    last_message_at: datetime | None
    message_count: int
    starred: bool
    tags: list[str]
    preferences: SessionPreferences
    deleted: bool
    deleted_at: datetime | None
    version: int

    @classmethod
    def of(cls, session: SessionMetadata) -> SessionRead:
        """The owner's view of a session."""
        return cls.model_validate(session.model_dump(exclude={"user_id"}))


class SessionPage(ApiModel):
    """`SessionsListResponse`."""

    sessions: list[SessionRead]
    next_token: str | None = None


class SessionUpdateRequest(ApiModel):
    """`UpdateSessionMetadataRequest`: every field optional, preference fields flattened.

    Preferences are merged field by field; `preferences` may carry further keys to merge.
    """

    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: SessionStatus | None = None
    starred: bool | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    last_model: str | None = Field(default=None, max_length=256)
    last_temperature: float | None = Field(default=None, ge=0, le=2)
    enabled_tools: list[str] | None = Field(default=None, max_length=200)
    selected_prompt_id: str | None = Field(default=None, max_length=256)
    custom_prompt_text: str | None = Field(default=None, max_length=20000)
    assistant_id: str | None = Field(default=None, max_length=128)
    system_prompt_hash: str | None = Field(default=None, max_length=128)
    preferences: dict[str, Any] | None = None

    def to_update(self) -> SessionUpdate:
        """The domain's partial update."""
        preferences = dict(self.preferences or {})
        for name in _PREFERENCE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                preferences[SessionPreferences.model_fields[name].alias or name] = value
        return SessionUpdate(
            title=self.title,
            status=self.status,
            starred=self.starred,
            tags=self.tags,
            preferences=preferences,
        )


class BulkDeleteRequest(ApiModel):
    """`BulkDeleteSessionsRequest`."""

    session_ids: list[str] = Field(min_length=1, max_length=20)


class BulkDeleteItem(ApiModel):
    """One id's outcome."""

    session_id: str
    success: bool
    error: str | None = None


class BulkDeleteRead(ApiModel):
    """`BulkDeleteSessionsResponse`."""

    deleted_count: int
    failed_count: int
    results: list[BulkDeleteItem]


class MessageRead(ApiModel):
    """`MessageResponse`: `id` is `msg-{sessionId}-{index}`; `citations` are repeated top-level."""

    id: str
    role: Role
    content: list[ContentBlock]
    created_at: datetime
    status: MessageStatus
    metadata: MessageMetadata | None = None
    citations: list[Citation] | None = None

    @classmethod
    def of(cls, message: Message) -> MessageRead:
        """A stored message as the frontend renders it."""
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            created_at=message.created_at,
            status=message.status,
            metadata=message.metadata,
            citations=message.citations,
        )


class MessagePage(ApiModel):
    """`MessagesListResponse`."""

    messages: list[MessageRead]
    next_token: str | None = None
