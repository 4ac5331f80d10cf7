"""HTTP shapes of the sessions routes (the original's names; `userId` is never returned)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter

from app_api.schemas import ApiModel
from chat_core.costs import CostBreakdown, TokenUsage
from chat_core.fields import NOT_NULL, StrictBool, StrictFloat, omittable
from chat_core.limits import (
    ENABLED_TOOLS_MAX,
    ID_MAX_CHARS,
    INSTRUCTIONS_MAX_CHARS,
    PREFERENCES_MAX_KEYS,
    SESSION_TAGS_MAX,
    DisplayName,
    ShortText,
    Tag,
)
from chat_core.messages import (
    Attribution,
    Citation,
    ContentBlock,
    Latency,
    Message,
    MessageMetadata,
    MessageStatus,
    ModelInfo,
    Role,
)
from chat_core.pagination import Page
from chat_core.sessions import SessionMetadata, SessionPreferences, SessionStatus, SessionUpdate

__all__ = [
    "BulkDeleteItem",
    "BulkDeleteRead",
    "BulkDeleteRequest",
    "FileAttachmentBlock",
    "FileAttachmentRead",
    "MessageMetadataRead",
    "MessagePage",
    "MessageRead",
    "SessionPage",
    "SessionRead",
    "SessionUpdateRequest",
]

_SESSIONS: TypeAdapter[list[SessionMetadata]] = TypeAdapter(list[SessionMetadata])

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

    @staticmethod
    def json_of(page: Page[SessionMetadata]) -> bytes:
        """The JSON of the `SessionPage` of `page`, serialised straight from the stored sessions.

        `SessionRead` is `SessionMetadata` without `userId` (same names, types and order), so the
        sessions are dumped once, leaving that field out, instead of being converted into `SessionRead`
        models and validated again: the listing's largest cost.
        """
        sessions = _SESSIONS.dump_json(page.items, by_alias=True, exclude={"__all__": {"user_id"}})
        return b'{"sessions":%s,"nextToken":%s}' % (sessions, json.dumps(page.next_cursor).encode())


PreferenceKey = Annotated[str, Field(min_length=1, max_length=64)]


class SessionUpdateRequest(ApiModel):
    """`UpdateSessionMetadataRequest`: every field optional, preference fields flattened.

    Preferences are merged field by field; `preferences` may carry further keys to merge.
    """

    title: Annotated[DisplayName | None, NOT_NULL] = omittable()
    status: Annotated[SessionStatus | None, NOT_NULL] = omittable()
    starred: Annotated[StrictBool | None, NOT_NULL] = omittable()
    tags: Annotated[list[Tag] | None, NOT_NULL] = omittable(max_length=SESSION_TAGS_MAX)
    last_model: Annotated[str | None, NOT_NULL] = omittable(max_length=256)
    last_temperature: Annotated[StrictFloat | None, NOT_NULL] = omittable(ge=0, le=2)
    enabled_tools: Annotated[list[ShortText] | None, NOT_NULL] = omittable(max_length=ENABLED_TOOLS_MAX)
    selected_prompt_id: Annotated[str | None, NOT_NULL] = omittable(max_length=256)
    custom_prompt_text: Annotated[str | None, NOT_NULL] = omittable(max_length=INSTRUCTIONS_MAX_CHARS)
    assistant_id: Annotated[str | None, NOT_NULL] = omittable(max_length=128)
    system_prompt_hash: Annotated[str | None, NOT_NULL] = omittable(max_length=128)
    preferences: Annotated[dict[PreferenceKey, Any] | None, NOT_NULL] = omittable(
        max_length=PREFERENCES_MAX_KEYS
    )
    """Further preference keys to merge: at most 64 in all, 192 KiB of JSON with the stored ones."""

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

    session_ids: list[Annotated[str, Field(max_length=ID_MAX_CHARS)]] = Field(min_length=1, max_length=20)


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


_MIME_TYPES: Final = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
"""MIME type of an attachment by its stored format (the formats the turn's attachment rules produce)."""


class MessageMetadataRead(ApiModel):
    """`MessageMetadata`, with `cost` the total in USD as a number.

    The stream's `metadata` event sends that number too, and the frontend formats it with `toFixed`;
    `costBreakdown` holds the parts.
    """

    latency: Latency | None = None
    token_usage: TokenUsage | None = None
    model_info: ModelInfo | None = None
    attribution: Attribution | None = None
    cost: float | None = None
    cost_breakdown: CostBreakdown | None = None
    citations: list[Citation] | None = None
    error_code: str | None = None

    @classmethod
    def of(cls, metadata: MessageMetadata) -> MessageMetadataRead:
        """The wire view of a turn's stored metadata."""
        return cls(
            latency=metadata.latency,
            token_usage=metadata.token_usage,
            model_info=metadata.model_info,
            attribution=metadata.attribution,
            cost=metadata.cost.total_cost if metadata.cost else None,
            cost_breakdown=metadata.cost,
            citations=metadata.citations,
            error_code=metadata.error_code,
        )


class FileAttachmentRead(ApiModel):
    """A file attached to a user message (`FileAttachmentData`), shown as a badge."""

    upload_id: str
    filename: str
    mime_type: str
    size_bytes: int


class FileAttachmentBlock(ApiModel):
    """`{type: "fileAttachment", fileAttachment}`: the block the frontend renders for an attached file.

    Returned before the stored `document`/`image` reference of each uploaded file of a user message.
    """

    type: Literal["fileAttachment"] = "fileAttachment"
    file_attachment: FileAttachmentRead


def _content_of(message: Message) -> list[ContentBlock | FileAttachmentBlock]:
    if message.role != "user":
        return list(message.content)
    badges: list[ContentBlock | FileAttachmentBlock] = []
    for block in message.content:
        attachment = block.document or block.image
        if attachment is not None and attachment.upload_id is not None:
            badges.append(
                FileAttachmentBlock(
                    file_attachment=FileAttachmentRead(
                        upload_id=attachment.upload_id,
                        filename=attachment.name,
                        mime_type=_MIME_TYPES.get(attachment.format, "application/octet-stream"),
                        size_bytes=attachment.size_bytes or 0,
                    )
                )
            )
    return [*badges, *message.content]


class MessageRead(ApiModel):
    """`MessageResponse`: `id` is `msg-{sessionId}-{index}`; `citations` are repeated top-level."""

    id: str
    role: Role
    content: list[ContentBlock | FileAttachmentBlock]
    created_at: datetime
    status: MessageStatus
    metadata: MessageMetadataRead | None = None
    citations: list[Citation] | None = None

    @classmethod
    def of(cls, message: Message) -> MessageRead:
        """A stored message as the frontend renders it."""
        return cls(
            id=message.id,
            role=message.role,
            content=_content_of(message),
            created_at=message.created_at,
            status=message.status,
            metadata=MessageMetadataRead.of(message.metadata) if message.metadata else None,
            citations=message.citations,
        )


class MessagePage(ApiModel):
    """`MessagesListResponse`; without a `limit` it holds the whole conversation (up to a bound)."""

    messages: list[MessageRead]
    next_token: str | None = None
