"""Quota tiers, assignments, overrides and events in SQLite (one JSON row per item)."""

from __future__ import annotations

import builtins

from chat_core.errors import ConflictError
from chat_core.ids import UserId, validate_id
from chat_core.quotas import QuotaAssignment, QuotaEvent, QuotaEventType, QuotaOverride, QuotaTier
from chat_storage.local._db import Database, to_db_time

__all__ = ["LocalQuotaRepository"]

_MAX_LIST = 1000


class LocalQuotaRepository:
    """`QuotaRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get_tier(self, tier_id: str) -> QuotaTier | None:
        """One tier."""
        row = await self._db.fetch_one(
            "SELECT body FROM quota_tiers WHERE tier_id = ?", (validate_id(tier_id, field="tierId"),)
        )
        return QuotaTier.model_validate_json(row["body"]) if row else None

    async def list_tiers(self) -> builtins.list[QuotaTier]:
        """Every tier, by id."""
        rows = await self._db.fetch_all("SELECT body FROM quota_tiers ORDER BY tier_id")
        return [QuotaTier.model_validate_json(row["body"]) for row in rows]

    async def create_tier(self, tier: QuotaTier) -> QuotaTier:
        """Add a tier; `ConflictError` when its id is taken."""
        async with self._db.transaction() as tx:
            try:
                await tx.execute(
                    "INSERT INTO quota_tiers (tier_id, body) VALUES (?, ?)",
                    (tier.tier_id, tier.model_dump_json(by_alias=True)),
                )
            except ConflictError as exc:
                raise ConflictError(
                    f"A tier with id {tier.tier_id!r} already exists.", field="tierId"
                ) from exc
        return tier

    async def put_tier(self, tier: QuotaTier) -> QuotaTier:
        """Create or replace a tier."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO quota_tiers (tier_id, body) VALUES (?, ?) "
                "ON CONFLICT (tier_id) DO UPDATE SET body = excluded.body",
                (tier.tier_id, tier.model_dump_json(by_alias=True)),
            )
        return tier

    async def delete_tier(self, tier_id: str) -> bool:
        """Remove a tier; `False` when it was missing."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "DELETE FROM quota_tiers WHERE tier_id = ?", (validate_id(tier_id, field="tierId"),)
            )
        return changed == 1

    async def get_assignment(self, assignment_id: str) -> QuotaAssignment | None:
        """One assignment."""
        row = await self._db.fetch_one(
            "SELECT body FROM quota_assignments WHERE assignment_id = ?",
            (validate_id(assignment_id, field="assignmentId"),),
        )
        return QuotaAssignment.model_validate_json(row["body"]) if row else None

    async def list_assignments(self) -> builtins.list[QuotaAssignment]:
        """Every assignment, by id."""
        rows = await self._db.fetch_all("SELECT body FROM quota_assignments ORDER BY assignment_id")
        return [QuotaAssignment.model_validate_json(row["body"]) for row in rows]

    async def put_assignment(self, assignment: QuotaAssignment) -> QuotaAssignment:
        """Create or replace an assignment."""
        validate_id(assignment.assignment_id, field="assignmentId")
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO quota_assignments (assignment_id, body) VALUES (?, ?) "
                "ON CONFLICT (assignment_id) DO UPDATE SET body = excluded.body",
                (assignment.assignment_id, assignment.model_dump_json(by_alias=True)),
            )
        return assignment

    async def delete_assignment(self, assignment_id: str) -> bool:
        """Remove an assignment; `False` when it was missing."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "DELETE FROM quota_assignments WHERE assignment_id = ?",
                (validate_id(assignment_id, field="assignmentId"),),
            )
        return changed == 1

    async def get_override(self, override_id: str) -> QuotaOverride | None:
        """One override."""
        row = await self._db.fetch_one(
            "SELECT body FROM quota_overrides WHERE override_id = ?",
            (validate_id(override_id, field="overrideId"),),
        )
        return QuotaOverride.model_validate_json(row["body"]) if row else None

    async def list_overrides(
        self, *, user_id: UserId | None = None, limit: int = 200
    ) -> builtins.list[QuotaOverride]:
        """Overrides (of one user), latest ending first, at most `limit`."""
        bounded = max(1, min(limit, _MAX_LIST))
        if user_id is None:
            rows = await self._db.fetch_all(
                "SELECT body FROM quota_overrides ORDER BY valid_until DESC, override_id LIMIT ?", (bounded,)
            )
        else:
            rows = await self._db.fetch_all(
                "SELECT body FROM quota_overrides WHERE user_id = ? ORDER BY valid_until DESC, override_id "
                "LIMIT ?",
                (validate_id(user_id, field="userId"), bounded),
            )
        return [QuotaOverride.model_validate_json(row["body"]) for row in rows]

    async def put_override(self, override: QuotaOverride) -> QuotaOverride:
        """Create or replace an override."""
        validate_id(override.override_id, field="overrideId")
        validate_id(override.user_id, field="userId")
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO quota_overrides (override_id, user_id, valid_until, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (override_id) DO UPDATE SET user_id = excluded.user_id, "
                "valid_until = excluded.valid_until, body = excluded.body",
                (
                    override.override_id,
                    override.user_id,
                    to_db_time(override.valid_until),
                    override.model_dump_json(by_alias=True),
                ),
            )
        return override

    async def delete_override(self, override_id: str) -> bool:
        """Remove an override; `False` when it was missing."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "DELETE FROM quota_overrides WHERE override_id = ?",
                (validate_id(override_id, field="overrideId"),),
            )
        return changed == 1

    async def record_event(self, event: QuotaEvent) -> bool:
        """Store an event once per `event_id`; `False` when it was already stored."""
        validate_id(event.event_id, field="eventId")
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "INSERT OR IGNORE INTO quota_events (event_id, user_id, tier_id, event_type, at, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event.event_id,
                    event.user_id,
                    event.tier_id,
                    event.event_type.value,
                    to_db_time(event.timestamp),
                    event.model_dump_json(by_alias=True),
                ),
            )
        return changed == 1

    async def list_events(
        self,
        *,
        user_id: UserId | None = None,
        tier_id: str | None = None,
        event_type: QuotaEventType | None = None,
        limit: int = 50,
    ) -> builtins.list[QuotaEvent]:
        """Events, newest first, optionally of one user, tier or type (an indexed range each)."""
        conditions, params = [], []
        if user_id is not None:
            conditions.append("user_id = ?")
            params.append(validate_id(user_id, field="userId"))
        if tier_id is not None:
            conditions.append("tier_id = ?")
            params.append(validate_id(tier_id, field="tierId"))
        if event_type is not None:
            conditions.append("event_type = ?")
            params.append(event_type.value)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = await self._db.fetch_all(
            f"SELECT body FROM quota_events {where}ORDER BY at DESC, event_id LIMIT ?",  # noqa: S608 (fixed conditions, placeholders)  # nosec B608
            (*params, max(1, min(limit, _MAX_LIST))),
        )
        return [QuotaEvent.model_validate_json(row["body"]) for row in rows]
