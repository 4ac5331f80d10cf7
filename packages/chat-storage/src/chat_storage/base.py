"""The `Storage` bundle every backend yields: one object per chat-core port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chat_core.ports import (
    AppRoleRepository,
    AssistantRepository,
    BlobStore,
    CostLedger,
    DocumentRepository,
    FileRepository,
    LoginStateStore,
    ManagedModelRepository,
    MessageRepository,
    QuotaRepository,
    RateLimitCounters,
    SessionRepository,
    ToolRepository,
    TurnRepository,
    UsageLedger,
    UserRepository,
)

__all__ = ["Storage"]


@dataclass(frozen=True, slots=True)
class Storage:
    """All repositories of one backend, opened together and closed together."""

    backend: str
    sessions: SessionRepository
    messages: MessageRepository
    managed_models: ManagedModelRepository
    assistants: AssistantRepository
    files: FileRepository
    documents: DocumentRepository
    costs: CostLedger
    users: UserRepository
    roles: AppRoleRepository
    tools: ToolRepository
    login_states: LoginStateStore
    blobs: BlobStore
    ping: Callable[[], Awaitable[None]]
    """Raise `UnavailableError` when the backend cannot be reached (used by `/health`)."""
    turns: TurnRepository
    """Finished chat turns, each one atomic write (messages, session counters, cost)."""
    quotas: QuotaRepository
    """Quota tiers, assignments, overrides and events."""
    usage: UsageLedger
    """Per-user spend per UTC day and month, reservations, cost rollups."""
    rate_limits: RateLimitCounters
    """Request-rate counters shared by every replica."""
