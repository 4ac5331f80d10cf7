"""Storage ports: what the services need from persistence, one Protocol per aggregate.

Backends live in `chat-storage` and must all pass its contract suite. Shared conventions:

- A missing item is `None`; deleting a missing item is a no-op (returns `False` where it reports).
- Every method takes the owner's id where one exists, and never returns another owner's data.
- Lists are keyed, paginated queries: `cursor` is the opaque `Page.next_cursor` of the previous page;
  a cursor that was not issued for this listing raises `InvalidInputError`.
- Counters are atomic increments; `expected_version` makes a write conditional (`ConflictError`).
- Outages raise `UnavailableError` (cause chained); nothing returns an empty result instead.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from chat_core.assistants import Assistant, AssistantShare, AssistantStatus
from chat_core.costs import CostRecord, PeriodRollup, UserCostSummary, UserPeriodSpend
from chat_core.documents import Document, DocumentProgress
from chat_core.files import FileUpload, UserFileQuota
from chat_core.identity import LoginState, User, UserProfile, UserStatus
from chat_core.ids import AssistantId, DocumentId, ManagedModelId, SessionId, UploadId, UserId
from chat_core.managed_models import ManagedModel, ManagedModelUpdate
from chat_core.messages import Message, MessageDraft
from chat_core.pagination import Page
from chat_core.quotas import (
    QuotaAssignment,
    QuotaEvent,
    QuotaEventType,
    QuotaOverride,
    QuotaTier,
    UsageSnapshot,
)
from chat_core.roles import AppRole
from chat_core.sessions import SessionMetadata, SessionUpdate
from chat_core.tools import ToolDefinition, ToolPreferences
from chat_core.turns import RecordedTurn, TurnRecord

__all__ = [
    "AppRoleRepository",
    "AssistantRepository",
    "BlobInfo",
    "BlobStore",
    "CostLedger",
    "DocumentRepository",
    "FileRepository",
    "LoginStateStore",
    "ManagedModelRepository",
    "MessageRepository",
    "QuotaRepository",
    "RateLimitCounters",
    "SessionRepository",
    "ToolRepository",
    "TurnRepository",
    "UsageLedger",
    "UserRepository",
    "WindowCounts",
]


class SessionRepository(Protocol):
    """Session metadata. Keys never contain a mutable value."""

    async def get(self, user_id: UserId, session_id: SessionId) -> SessionMetadata | None:
        """The session (also when soft-deleted), or `None`."""
        ...

    async def list(
        self, user_id: UserId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[SessionMetadata]:
        """Active sessions, newest `last_message_at` (else `created_at`) first."""
        ...

    async def update(
        self,
        user_id: UserId,
        session_id: SessionId,
        changes: SessionUpdate,
        *,
        expected_version: int | None = None,
    ) -> SessionMetadata:
        """Create-or-merge: set the given fields, merge preferences key by key, bump `version`.

        A missing session is created with the defaults first, at version 1. Raises `ConflictError` when
        `expected_version` is given and differs from the stored one (or the session is missing).
        """
        ...

    async def record_turn(
        self,
        user_id: UserId,
        session_id: SessionId,
        *,
        at: datetime,
        preferences: dict[str, Any] | None = None,
    ) -> SessionMetadata:
        """Atomically: create if missing, `message_count += 1`, `last_message_at = at`, merge preferences.

        Like every write it bumps `version` (a new session starts at version 1).
        """
        ...

    async def soft_delete(self, user_id: UserId, session_id: SessionId) -> bool:
        """Mark deleted in one atomic write; `False` when missing or already deleted."""
        ...


class MessageRepository(Protocol):
    """Messages of a session, in order. Indexes are assigned by storage, atomically."""

    async def append(
        self, user_id: UserId, session_id: SessionId, messages: Sequence[MessageDraft]
    ) -> builtins.list[Message]:
        """Store `messages` at the next consecutive indexes; concurrent appends never collide."""
        ...

    async def list(
        self, user_id: UserId, session_id: SessionId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Message]:
        """Oldest first."""
        ...

    async def recent(self, user_id: UserId, session_id: SessionId, *, limit: int) -> builtins.list[Message]:
        """The last `limit` messages (at most `MAX_PAGE_SIZE`), oldest first.

        One newest-first read of the window: its cost does not grow with the session's length.
        """
        ...


class TurnRepository(Protocol):
    """Finished chat turns, each stored as one atomic write (see `chat_core.turns`)."""

    async def record(self, turn: TurnRecord) -> RecordedTurn:
        """Store the turn whole, or nothing, once per `turn.turn_id`.

        One atomic write holds: both messages at the session's next indexes; the session's counters
        (`message_count += 1`, `last_message_at = turn.at`, `version += 1`; the session is created
        when missing) with `turn.preferences` merged; and, when the turn is charged, the reply's cost
        record with the month's summary. A crash at any point leaves all of it or none of it.
        Recording a turn id again writes nothing and returns the turn as first stored.

        Raises:
            ConflictError: `preferences` binds the session to another assistant than its own.
            InvalidInputError: an invalid id or preference, or a message too large to store.
            UnavailableError: storage cannot be reached (the turn may be retried with the same id).
        """
        ...


class ManagedModelRepository(Protocol):
    """The model catalogue; `model_id` (the provider's id) is unique."""

    async def get(self, model_uuid: ManagedModelId) -> ManagedModel | None:
        """By our id."""
        ...

    async def get_by_model_id(self, model_id: str) -> ManagedModel | None:
        """By the provider's model id (one keyed read, never a scan)."""
        ...

    async def list(self) -> builtins.list[ManagedModel]:
        """Every model, ordered by `model_name` (the catalogue is small and read often)."""
        ...

    async def create(self, model: ManagedModel) -> ManagedModel:
        """Add a model; `ConflictError` when its `model_id` is taken."""
        ...

    async def update(self, model_uuid: ManagedModelId, changes: ManagedModelUpdate) -> ManagedModel | None:
        """Apply `changes`; `None` when missing; `ConflictError` when a new `model_id` is taken."""
        ...

    async def delete(self, model_uuid: ManagedModelId) -> bool:
        """Remove the model; `False` when it was missing."""
        ...


class AssistantRepository(Protocol):
    """Assistants and their shares."""

    async def get(self, assistant_id: AssistantId) -> Assistant | None:
        """By id."""
        ...

    async def put(self, assistant: Assistant, *, expected_version: int | None = None) -> Assistant:
        """Create or replace. With `expected_version`, `ConflictError` unless the stored version matches."""
        ...

    async def delete(self, assistant_id: AssistantId) -> bool:
        """Remove the assistant and every share of it; `False` when it was missing."""
        ...

    async def list_owned(
        self,
        owner_id: UserId,
        *,
        statuses: frozenset[AssistantStatus],
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Assistant]:
        """The owner's assistants in the given statuses, newest first."""
        ...

    async def list_shared_with(
        self, email: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Assistant]:
        """Assistants shared with `email` that are SHARED and COMPLETE: one query, no N+1 reads."""
        ...

    async def list_public(self, *, limit: int = 50, cursor: str | None = None) -> Page[Assistant]:
        """PUBLIC, COMPLETE assistants, newest first."""
        ...

    async def add_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Share with each (lowercased) email; existing shares are kept as they are. Returns all shares."""
        ...

    async def remove_shares(
        self, assistant_id: AssistantId, emails: Sequence[str]
    ) -> builtins.list[AssistantShare]:
        """Unshare; unknown emails are ignored. Returns the remaining shares."""
        ...

    async def list_shares(self, assistant_id: AssistantId) -> builtins.list[AssistantShare]:
        """Every share of the assistant, by email."""
        ...

    async def get_share(self, assistant_id: AssistantId, email: str) -> AssistantShare | None:
        """The share for one email, or `None`."""
        ...

    async def mark_share_interacted(self, assistant_id: AssistantId, email: str) -> None:
        """Record that the sharee used the assistant (no-op without a share)."""
        ...


class FileRepository(Protocol):
    """Chat attachments and the per-user quota they count against."""

    async def reserve(self, upload: FileUpload, *, quota_bytes: int) -> FileUpload:
        """Create a pending record and add its size to the quota in one atomic step.

        Raises `QuotaExceededError` (detail: currentUsage, maxAllowed, requiredSpace) when it would
        exceed `quota_bytes`; concurrent reservations can never overshoot it together.
        """
        ...

    async def get(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """The caller's file, or `None` (also for someone else's id)."""
        ...

    async def mark_ready(
        self, user_id: UserId, upload_id: UploadId, *, etag: str | None = None
    ) -> FileUpload:
        """Pending -> ready, keeping the checked object's `etag` (`FileUpload.content_etag`).

        `NotFoundError` when missing, `ConflictError` when not pending.
        """
        ...

    async def mark_failed(self, user_id: UserId, upload_id: UploadId) -> FileUpload:
        """Pending -> failed, releasing its reserved bytes. Same errors as `mark_ready`."""
        ...

    async def delete(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """Remove the record and release its bytes atomically; the removed record, or `None`."""
        ...

    async def list(
        self,
        user_id: UserId,
        *,
        session_id: SessionId | None = None,
        status: Literal["ready", "any"] = "ready",
        limit: int = 50,
        cursor: str | None = None,
        sort_by: Literal["date", "size", "type"] = "date",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> Page[FileUpload]:
        """The caller's files (optionally of one session)."""
        ...

    async def quota(self, user_id: UserId) -> UserFileQuota:
        """Bytes and files currently counted against the caller."""
        ...


class DocumentRepository(Protocol):
    """Documents of assistants' knowledge bases."""

    async def create(self, document: Document) -> Document:
        """Add a document; `ConflictError` if the id exists."""
        ...

    async def get(self, assistant_id: AssistantId, document_id: DocumentId) -> Document | None:
        """One document of one assistant."""
        ...

    async def list(
        self, assistant_id: AssistantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Document]:
        """The assistant's documents, newest first."""
        ...

    async def update_progress(
        self,
        assistant_id: AssistantId,
        document_id: DocumentId,
        progress: DocumentProgress,
        *,
        holder: str | None = None,
    ) -> Document | None:
        """Apply a status change; `None` when the document is gone (deleted meanwhile).

        `None` fields of `progress` are left as they are, except `error_message`: any status but
        `failed` clears it. With `holder`, the change applies only while `holder` holds the ingestion
        lease (else `None` too). A finished status (complete, failed) releases the lease and resets
        `ingest_attempts`.
        """
        ...

    async def acquire_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> Document | None:
        """Take the ingestion lease until `expires_at` and count an attempt, in one conditional write.

        Granted when nobody holds the lease, its holder's lease has expired, or `holder` holds it
        already; `None` when another holder's lease is live, or the document is finished (complete,
        failed) or gone. Two processes never hold it at once.
        """
        ...

    async def renew_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> bool:
        """Extend `holder`'s lease to `expires_at` (the heartbeat); `False` when it is no longer theirs."""
        ...

    async def list_unfinished(self, *, limit: int = 100) -> builtins.list[Document]:
        """Documents of every assistant still uploading or being ingested, least recently updated first.

        The work list of the background reconciler (uploads that arrived unannounced, stalled ingestions).
        """
        ...

    async def delete(self, assistant_id: AssistantId, document_id: DocumentId) -> bool:
        """Remove one document record."""
        ...

    async def delete_all(self, assistant_id: AssistantId) -> builtins.list[Document]:
        """Remove every document record of an assistant; the removed records (for blob cleanup)."""
        ...


class CostLedger(Protocol):
    """Per-turn cost records and per-user monthly summaries."""

    async def record(self, entry: CostRecord) -> bool:
        """Store the record and add it to the month's summary atomically; `False` if already recorded."""
        ...

    async def summary(self, user_id: UserId, period: str) -> UserCostSummary:
        """The user's `YYYY-MM` summary (zeros when nothing was spent)."""
        ...

    async def report(self, user_id: UserId, start: date, end: date) -> UserCostSummary:
        """The user's spend from `start` to `end` inclusive (UTC days), summed from the turns' records.

        The caller bounds the range: every record in it is read.
        """
        ...


class UserRepository(Protocol):
    """People who have signed in: the share picker and the administrators' user pages."""

    async def remember(self, user: User) -> bool:
        """Record a profile on first sight; `True` when it was new. Cheap when already known."""
        ...

    async def record_login(self, user: User, *, at: datetime) -> UserProfile:
        """Create or refresh the profile at a sign-in: email, name, roles, domain, `last_login_at`.

        `first_seen_at` and `status` of an existing profile are kept.
        """
        ...

    async def get(self, user_id: UserId) -> UserProfile | None:
        """One profile."""
        ...

    async def get_by_email(self, email: str) -> UserProfile | None:
        """The profile with this (lowercased) email, if any."""
        ...

    async def list(
        self,
        *,
        status: UserStatus | None = None,
        domain: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> Page[UserProfile]:
        """Profiles, most recent sign-in first, optionally of one status or email domain."""
        ...

    async def domains(self, *, limit: int = 50) -> builtins.list[str]:
        """Email domains of known users, in alphabetical order."""
        ...

    async def search(self, prefix: str, *, limit: int = 10) -> builtins.list[UserProfile]:
        """Profiles whose email or name starts with `prefix` (case-insensitive)."""
        ...


class AppRoleRepository(Protocol):
    """The AppRole catalogue (small: read whole, cached by the services)."""

    async def get(self, role_id: str) -> AppRole | None:
        """One role."""
        ...

    async def list(self) -> builtins.list[AppRole]:
        """Every role, by id."""
        ...

    async def create(self, role: AppRole) -> AppRole:
        """Add a role; `ConflictError` when its id is taken."""
        ...

    async def put_many(self, roles: Sequence[AppRole]) -> None:
        """Create or replace several roles in one atomic write (all or none)."""
        ...

    async def delete(self, role_id: str) -> bool:
        """Remove a role; `False` when it was missing."""
        ...


class ToolRepository(Protocol):
    """The tool catalogue and each user's tool preferences."""

    async def get(self, tool_id: str) -> ToolDefinition | None:
        """One catalogue entry."""
        ...

    async def list(self) -> builtins.list[ToolDefinition]:
        """Every entry, by id."""
        ...

    async def create(self, tool: ToolDefinition) -> ToolDefinition:
        """Add an entry; `ConflictError` when its id is taken."""
        ...

    async def put(self, tool: ToolDefinition) -> ToolDefinition:
        """Create or replace an entry."""
        ...

    async def delete(self, tool_id: str) -> bool:
        """Remove an entry; `False` when it was missing."""
        ...

    async def get_preferences(self, user_id: UserId) -> ToolPreferences:
        """The user's choices (empty when they made none)."""
        ...

    async def put_preferences(self, user_id: UserId, preferences: ToolPreferences) -> ToolPreferences:
        """Merge `preferences` into the user's choices atomically; the result."""
        ...


class LoginStateStore(Protocol):
    """Sign-ins in progress, shared by every replica."""

    async def put(self, state: LoginState) -> None:
        """Store a new sign-in; `ConflictError` if its `state` exists."""
        ...

    async def take(self, state: str, *, now: datetime) -> LoginState | None:
        """Remove and return the sign-in atomically (so it is used once); `None` if unknown or expired."""
        ...


class QuotaRepository(Protocol):
    """Quota tiers, assignments, overrides and events (administrators change them, turns read them).

    Tiers and assignments are small catalogues (read whole and cached); overrides are read per user.
    """

    async def get_tier(self, tier_id: str) -> QuotaTier | None:
        """One tier."""
        ...

    async def list_tiers(self) -> builtins.list[QuotaTier]:
        """Every tier, by id."""
        ...

    async def create_tier(self, tier: QuotaTier) -> QuotaTier:
        """Add a tier; `ConflictError` when its id is taken."""
        ...

    async def put_tier(self, tier: QuotaTier) -> QuotaTier:
        """Replace a tier."""
        ...

    async def delete_tier(self, tier_id: str) -> bool:
        """Remove a tier; `False` when it was missing."""
        ...

    async def get_assignment(self, assignment_id: str) -> QuotaAssignment | None:
        """One assignment."""
        ...

    async def list_assignments(self) -> builtins.list[QuotaAssignment]:
        """Every assignment, by id."""
        ...

    async def put_assignment(self, assignment: QuotaAssignment) -> QuotaAssignment:
        """Create or replace an assignment."""
        ...

    async def delete_assignment(self, assignment_id: str) -> bool:
        """Remove an assignment; `False` when it was missing."""
        ...

    async def get_override(self, override_id: str) -> QuotaOverride | None:
        """One override."""
        ...

    async def list_overrides(
        self, *, user_id: UserId | None = None, limit: int = 200
    ) -> builtins.list[QuotaOverride]:
        """Overrides (of one user), latest ending first, at most `limit`."""
        ...

    async def put_override(self, override: QuotaOverride) -> QuotaOverride:
        """Create or replace an override."""
        ...

    async def delete_override(self, override_id: str) -> bool:
        """Remove an override; `False` when it was missing."""
        ...

    async def record_event(self, event: QuotaEvent) -> bool:
        """Store an event once per `event_id`; `False` when it was already stored."""
        ...

    async def list_events(
        self,
        *,
        user_id: UserId | None = None,
        tier_id: str | None = None,
        event_type: QuotaEventType | None = None,
        limit: int = 50,
    ) -> builtins.list[QuotaEvent]:
        """Events, newest first, optionally of one user, tier or type."""
        ...


class UsageLedger(Protocol):
    """Per-user spend per UTC day and month, what running turns reserved, and the system's rollups.

    Spend is added by the turn's own atomic write (with its cost record); this port reads it and
    holds reservations: a turn reserves its estimated cost before the model is called, and the
    stored turn releases it, so concurrent turns see each other before they are counted.
    """

    async def usage(self, user_id: UserId, *, at: datetime) -> UsageSnapshot:
        """Spent and reserved USD of the user's UTC day and month containing `at`."""
        ...

    async def reserve(
        self,
        user_id: UserId,
        reservation_id: str,
        amount: float,
        *,
        at: datetime,
        expires_at: datetime,
        daily_limit: float | None,
        monthly_limit: float | None,
    ) -> tuple[bool, UsageSnapshot]:
        """Reserve `amount` USD in the day and month of `at`, in one atomic step, if admitted.

        Admitted when, for each limit given, spent + reserved of its period is below it (expired
        reservations are released first). Returns whether it was admitted and the usage as seen by
        the decision (before the reservation).
        """
        ...

    async def release(self, user_id: UserId, reservation_id: str) -> bool:
        """Give a reservation back (a turn that will not be stored); `False` if it was gone."""
        ...

    async def rollup(self, period: str) -> PeriodRollup:
        """The system's totals of one day (`YYYY-MM-DD`) or month (`YYYY-MM`): one keyed read."""
        ...

    async def daily_rollups(self, start: date, end: date) -> builtins.list[PeriodRollup]:
        """Totals (without breakdowns) of each day from `start` to `end` that had spend, in order.

        The caller bounds the range (one row per day).
        """
        ...

    async def top_users(
        self, period: str, *, limit: int, min_cost: float | None = None
    ) -> builtins.list[UserPeriodSpend]:
        """The users who spent most in a day or month, highest first (an index range, `limit` rows)."""
        ...


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """A sliding-window counter's two windows, as one atomic step left them."""

    previous: int
    """The window before: what it had counted when the current window began."""
    current: int
    """The current window."""


class RateLimitCounters(Protocol):
    """Expiring counters shared by every replica (the storage of the `limits` strategies).

    `incr`, `decr`, `get`, `expires_at` and `clear` serve fixed windows. A sliding-window counter is
    one record per key holding its current window's number and count and the count of the window
    before (as the `limits` library's Redis storage rotates its two keys): `add_to_window` counts a
    request and reads both in one atomic step.
    """

    async def add_to_window(
        self, key: str, window: int, window_seconds: int, amount: int = 1
    ) -> WindowCounts:
        """Add `amount` to window number `window` (`int(epoch seconds / window_seconds)`) of `key`.

        When the stored window is older, it rotates first: the window just before `window` becomes
        `previous` (an older one counts 0) and the count starts at 0. A `window` older than the stored
        one (a replica whose clock lags) is counted in the stored window. The record can be forgotten
        once two windows have passed.
        """
        ...

    async def take_from_window(self, key: str, window: int, amount: int = 1) -> int:
        """Take back what `add_to_window` added to `window` (never below 0): the current count.

        Nothing changes once `key` moved on to a later window (its current count is returned).
        """
        ...

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount`; an absent or expired counter starts at 0 with `expiry` seconds to live."""
        ...

    async def decr(self, key: str, amount: int = 1) -> int:
        """Take `amount` back (never below 0); the new value."""
        ...

    async def get(self, key: str) -> int:
        """The counter (0 if absent or expired)."""
        ...

    async def expires_at(self, key: str) -> float:
        """When the counter expires (epoch seconds; now if absent)."""
        ...

    async def clear(self, key: str) -> None:
        """Remove the counter."""
        ...


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a blob store knows about an object without reading it."""

    key: str
    size_bytes: int
    content_type: str | None
    etag: str | None = None
    """Changes whenever the object is written again (S3's ETag; a content digest on disk)."""


class BlobStore(Protocol):
    """Object storage for uploads and documents; keys are `/`-separated, validated by the store."""

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Write atomically (readers see the old object or the new one, never part of one)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes, or `None`."""
        ...

    async def head(self, key: str) -> BlobInfo | None:
        """Size and type, or `None`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one object; missing is a no-op."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (which must end with `/`); how many were removed."""
        ...

    async def presign_upload(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> str:
        """A URL a browser can `PUT` the object to until it expires."""
        ...

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        """A URL a browser can `GET` the object from until it expires."""
        ...
