"""AppRoles, the tool catalogue, tool preferences and sign-in states in SQLite (one row per item)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.identity import LoginState
from chat_core.ids import UserId, validate_id
from chat_core.roles import AppRole
from chat_core.tools import ToolDefinition, ToolPreferences
from chat_storage.local._db import Database, to_db_time

__all__ = ["LocalAppRoleRepository", "LocalLoginStateStore", "LocalToolRepository"]

_MAX_KEY = 128


def _key(value: str, field: str) -> str:
    if not value or len(value) > _MAX_KEY:
        raise InvalidInputError(f"{field} must be 1 to {_MAX_KEY} characters.", field=field)
    return value


class LocalAppRoleRepository:
    """`AppRoleRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, role_id: str) -> AppRole | None:
        """One role."""
        row = await self._db.fetch_one(
            "SELECT body FROM app_roles WHERE role_id = ?", (_key(role_id, "roleId"),)
        )
        return AppRole.model_validate_json(row["body"]) if row else None

    async def list(self) -> builtins.list[AppRole]:
        """Every role, by id."""
        rows = await self._db.fetch_all("SELECT body FROM app_roles ORDER BY role_id")
        return [AppRole.model_validate_json(row["body"]) for row in rows]

    async def create(self, role: AppRole) -> AppRole:
        """Add a role; `ConflictError` when its id is taken."""
        async with self._db.transaction() as tx:
            try:
                await tx.execute(
                    "INSERT INTO app_roles (role_id, body) VALUES (?, ?)",
                    (role.role_id, role.model_dump_json(by_alias=True)),
                )
            except ConflictError as exc:
                raise ConflictError(
                    f"A role with id {role.role_id!r} already exists.", field="roleId"
                ) from exc
        return role

    async def put_many(self, roles: Sequence[AppRole]) -> None:
        """Create or replace several roles in one transaction."""
        async with self._db.transaction() as tx:
            await tx.execute_many(
                "INSERT INTO app_roles (role_id, body) VALUES (?, ?) "
                "ON CONFLICT (role_id) DO UPDATE SET body = excluded.body",
                [(role.role_id, role.model_dump_json(by_alias=True)) for role in roles],
            )

    async def delete(self, role_id: str) -> bool:
        """Remove a role; `False` when it was missing."""
        async with self._db.transaction() as tx:
            changed = await tx.execute("DELETE FROM app_roles WHERE role_id = ?", (_key(role_id, "roleId"),))
        return changed == 1


class LocalToolRepository:
    """`ToolRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, tool_id: str) -> ToolDefinition | None:
        """One catalogue entry."""
        row = await self._db.fetch_one("SELECT body FROM tools WHERE tool_id = ?", (_key(tool_id, "toolId"),))
        return ToolDefinition.model_validate_json(row["body"]) if row else None

    async def list(self) -> builtins.list[ToolDefinition]:
        """Every entry, by id."""
        rows = await self._db.fetch_all("SELECT body FROM tools ORDER BY tool_id")
        return [ToolDefinition.model_validate_json(row["body"]) for row in rows]

    async def create(self, tool: ToolDefinition) -> ToolDefinition:
        """Add an entry; `ConflictError` when its id is taken."""
        async with self._db.transaction() as tx:
            try:
                await tx.execute(
                    "INSERT INTO tools (tool_id, body) VALUES (?, ?)",
                    (tool.tool_id, tool.model_dump_json(by_alias=True)),
                )
            except ConflictError as exc:
                raise ConflictError(
                    f"A tool with id {tool.tool_id!r} already exists.", field="toolId"
                ) from exc
        return tool

    async def put(self, tool: ToolDefinition) -> ToolDefinition:
        """Create or replace an entry."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO tools (tool_id, body) VALUES (?, ?) "
                "ON CONFLICT (tool_id) DO UPDATE SET body = excluded.body",
                (tool.tool_id, tool.model_dump_json(by_alias=True)),
            )
        return tool

    async def delete(self, tool_id: str) -> bool:
        """Remove an entry; `False` when it was missing."""
        async with self._db.transaction() as tx:
            changed = await tx.execute("DELETE FROM tools WHERE tool_id = ?", (_key(tool_id, "toolId"),))
        return changed == 1

    async def get_preferences(self, user_id: UserId) -> ToolPreferences:
        """The user's choices (empty when they made none)."""
        validate_id(user_id, field="userId")
        row = await self._db.fetch_one("SELECT body FROM tool_preferences WHERE user_id = ?", (user_id,))
        return ToolPreferences.model_validate_json(row["body"]) if row else ToolPreferences()

    async def put_preferences(self, user_id: UserId, preferences: ToolPreferences) -> ToolPreferences:
        """Merge `preferences` into the user's choices in one transaction."""
        validate_id(user_id, field="userId")
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT body FROM tool_preferences WHERE user_id = ?", (user_id,))
            current = ToolPreferences.model_validate_json(row["body"]) if row else ToolPreferences()
            merged = ToolPreferences(enabled=current.enabled | preferences.enabled)
            await tx.execute(
                "INSERT INTO tool_preferences (user_id, body) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET body = excluded.body",
                (user_id, merged.model_dump_json(by_alias=True)),
            )
        return merged


class LocalLoginStateStore:
    """`LoginStateStore` on SQLite: taking a state is one `DELETE ... RETURNING`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def put(self, state: LoginState) -> None:
        """Store a new sign-in, and drop the expired ones on the way."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM login_states WHERE expires_at < ?", (to_db_time(state.created_at),))
            await tx.execute(
                "INSERT INTO login_states (state, expires_at, body) VALUES (?, ?, ?)",
                (state.state, to_db_time(state.expires_at), state.model_dump_json(by_alias=True)),
            )

    async def take(self, state: str, *, now: datetime) -> LoginState | None:
        """Remove and return the sign-in; `None` if unknown or expired (an expired one is removed too)."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "DELETE FROM login_states WHERE state = ? RETURNING expires_at, body", (_key(state, "state"),)
            )
        if row is None or row["expires_at"] <= to_db_time(now):
            return None
        return LoginState.model_validate_json(row["body"])
