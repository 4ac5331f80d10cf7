"""Messages of a session and the metadata a turn records (usage, latency, model, cost, citations)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from chat_core._base import CamelModel
from chat_core.clock import utc_now
from chat_core.costs import CostBreakdown, PricingSnapshot, TokenUsage
from chat_core.ids import MessageId, SessionId, UserId

__all__ = [
    "Attachment",
    "Attribution",
    "Citation",
    "ContentBlock",
    "Latency",
    "Message",
    "MessageDraft",
    "MessageMetadata",
    "MessageStatus",
    "ModelInfo",
    "Role",
    "ToolResult",
    "ToolUse",
]

Role = Literal["user", "assistant"]
BlockType = Literal["text", "toolUse", "toolResult", "image", "document", "reasoningContent"]


class MessageStatus(StrEnum):
    """A failed turn is recorded as failed, never as half a message."""

    COMPLETE = "complete"
    FAILED = "failed"


class ToolUse(CamelModel):
    """A tool call the model made."""

    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResult(CamelModel):
    """What a tool returned (text blocks), and whether it failed."""

    tool_use_id: str
    status: Literal["success", "error"] = "success"
    content: list[dict[str, Any]] = Field(default_factory=list)


class Attachment(CamelModel):
    """A reference to an attached file; the bytes stay in the blob store, never in history."""

    format: str
    name: str
    upload_id: str | None = None
    size_bytes: int | None = None


class ContentBlock(CamelModel):
    """One block of a message; exactly the field named by `type` is set."""

    type: BlockType
    text: str | None = None
    tool_use: ToolUse | None = None
    tool_result: ToolResult | None = None
    image: Attachment | None = None
    document: Attachment | None = None
    reasoning_content: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _payload_matches_type(self) -> ContentBlock:
        field = {"toolUse": "tool_use", "toolResult": "tool_result", "reasoningContent": "reasoning_content"}
        if getattr(self, field.get(self.type, self.type)) is None:
            raise ValueError(f"a {self.type!r} block needs its {self.type!r} field")
        return self

    @classmethod
    def of_text(cls, text: str) -> ContentBlock:
        """A text block."""
        return cls(type="text", text=text)


class Citation(CamelModel):
    """A knowledge-base passage a reply drew on, in the shape of the `citation` stream event."""

    assistant_id: str
    document_id: str
    file_name: str
    text: str = Field(max_length=500)


class Latency(CamelModel):
    """Milliseconds to the first token and to the end of the turn."""

    time_to_first_token: int | None = None
    end_to_end_latency: int | None = None


class ModelInfo(CamelModel):
    """Which managed model answered, with the prices in force at the time."""

    model_id: str
    model_name: str
    model_version: str | None = None
    provider: str | None = None
    pricing_snapshot: PricingSnapshot | None = None


class Attribution(CamelModel):
    """Who the turn is billed to."""

    user_id: UserId
    session_id: SessionId
    timestamp: datetime = Field(default_factory=utc_now)
    organization_id: str | None = None
    tags: list[str] | None = None


class MessageMetadata(CamelModel):
    """What a turn cost and how it went; stored on the assistant message."""

    latency: Latency | None = None
    token_usage: TokenUsage | None = None
    model_info: ModelInfo | None = None
    attribution: Attribution | None = None
    cost: CostBreakdown | None = None
    citations: list[Citation] | None = None
    error_code: str | None = None
    """Set when the turn failed: the `ErrorCode` value."""


class MessageDraft(CamelModel):
    """A message about to be appended; storage assigns its index and id."""

    role: Role
    content: list[ContentBlock]
    status: MessageStatus = MessageStatus.COMPLETE
    metadata: MessageMetadata | None = None
    created_at: datetime = Field(default_factory=utc_now)


class Message(MessageDraft):
    """A stored message; `id` is `msg-{sessionId}-{index}`."""

    id: MessageId
    index: int = Field(ge=0)

    @property
    def citations(self) -> list[Citation] | None:
        """Citations the reply drew on (also returned top-level by the API)."""
        return self.metadata.citations if self.metadata else None
