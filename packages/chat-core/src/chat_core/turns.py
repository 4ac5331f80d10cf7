"""A finished chat turn as storage keeps it: one atomic write, recorded once per turn id.

A turn is the user's message, the reply, what the reply cost and the session's counters. Stored in
separate writes, a crash between them leaves counters behind the messages, and a retry after a late
failure stores the question twice and bills twice; `TurnRepository.record` (see `chat_core.ports`)
stores all of it in one atomic write, keyed by `TurnRecord.turn_id`, so a retry is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.messages import Message, MessageDraft
from chat_core.quotas import QuotaStamp

__all__ = ["RecordedTurn", "TurnCharge", "TurnRecord"]


@dataclass(frozen=True, slots=True)
class TurnCharge:
    """What a turn is billed: the model that answered, its usage and the prices in force."""

    model_id: str
    model_name: str
    provider: str | None
    usage: TokenUsage
    pricing: PricingSnapshot

    def cost_record(
        self,
        *,
        user_id: UserId,
        session_id: SessionId,
        message_id: str,
        at: datetime,
        quota: QuotaStamp | None = None,
    ) -> CostRecord:
        """The cost ledger's record of the reply `message_id` (known once storage numbered it)."""
        return CostRecord.for_turn(
            user_id=user_id,
            session_id=session_id,
            message_id=message_id,
            model_id=self.model_id,
            model_name=self.model_name,
            provider=self.provider,
            usage=self.usage,
            pricing=self.pricing,
            timestamp=at,
            quota=quota,
        )


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """Everything one turn stores, written whole or not at all."""

    turn_id: str
    """Unique per turn (a valid id); recording the same id again writes nothing."""
    user_id: UserId
    session_id: SessionId
    user_message: MessageDraft
    """The user's own text and attachment references."""
    reply: MessageDraft
    """The assistant's message (complete, or failed with the error's text)."""
    at: datetime
    """When the turn ended: the session's `last_message_at` and the cost record's time."""
    preferences: dict[str, Any] = field(default_factory=dict)
    """camelCase session preferences to merge. `assistantId` binds the session to an assistant: it is
    set once and never replaced by another (a different one is a `ConflictError`)."""
    charge: TurnCharge | None = None
    """`None` for a turn that is not billed (it failed before using any tokens)."""
    quota: QuotaStamp | None = None
    """The spend quota the turn ran under: its reservation is released and, when billed, its cost is
    counted against the user's day and month and the cost rollups, in the same write."""


@dataclass(frozen=True, slots=True)
class RecordedTurn:
    """A turn as stored."""

    messages: list[Message]
    """The user's message and the reply, numbered by storage."""
    recorded: bool
    """`False` when the turn id had been recorded before: nothing was written, and `messages` are the
    ones stored then."""

    @property
    def reply(self) -> Message:
        """The assistant's stored message."""
        return self.messages[-1]
