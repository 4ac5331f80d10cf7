"""AppRoles, the tool catalogue, tool preferences and sign-in states: the same behaviour on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from chat_core.clock import utc_now
from chat_core.errors import ConflictError
from chat_core.identity import LoginState
from chat_core.ids import UserId
from chat_core.roles import AppRole
from chat_core.tools import ToolDefinition, ToolPreferences
from chat_storage import Storage


def _role(role_id: str, **fields: object) -> AppRole:
    return AppRole.model_validate({"role_id": role_id, "display_name": role_id.title(), **fields})


class TestAppRoles:
    @pytest.mark.asyncio
    async def test_create_get_list_delete(self, storage: Storage) -> None:
        staff = await storage.roles.create(
            _role("staff", jwt_role_mappings=["Staff"], granted_models=["m-1"])
        )
        await storage.roles.create(_role("admins", granted_tools=["*"]))
        assert await storage.roles.get("staff") == staff
        assert [role.role_id for role in await storage.roles.list()] == ["admins", "staff"]
        assert await storage.roles.delete("staff") is True
        assert await storage.roles.delete("staff") is False
        assert await storage.roles.get("staff") is None

    @pytest.mark.asyncio
    async def test_duplicate_id_is_a_conflict(self, storage: Storage) -> None:
        await storage.roles.create(_role("staff"))
        with pytest.raises(ConflictError):
            await storage.roles.create(_role("staff", description="again"))
        assert (await storage.roles.get("staff")).description == ""  # type: ignore[union-attr]

    @pytest.mark.asyncio
    async def test_put_many_replaces_together(self, storage: Storage, other_storage: Storage) -> None:
        await storage.roles.create(_role("one"))
        await storage.roles.put_many([_role("one", granted_tools=["calculator"]), _role("two")])
        seen = {role.role_id: role for role in await other_storage.roles.list()}
        assert seen["one"].granted_tools == ["calculator"]
        assert set(seen) == {"one", "two"}


class TestTools:
    @pytest.mark.asyncio
    async def test_catalogue(self, storage: Storage) -> None:
        tool = ToolDefinition(tool_id="calculator", display_name="Calculator")
        await storage.tools.create(tool)
        with pytest.raises(ConflictError):
            await storage.tools.create(tool)
        await storage.tools.put(tool.model_copy(update={"is_public": True}))
        assert (await storage.tools.get("calculator")).is_public is True  # type: ignore[union-attr]
        assert [item.tool_id for item in await storage.tools.list()] == ["calculator"]
        assert await storage.tools.delete("calculator") is True
        assert await storage.tools.list() == []

    @pytest.mark.asyncio
    async def test_preferences_merge_per_user(self, storage: Storage) -> None:
        alice, bob = UserId("alice"), UserId("bob")
        assert await storage.tools.get_preferences(alice) == ToolPreferences()
        await storage.tools.put_preferences(alice, ToolPreferences(enabled={"calculator": True}))
        merged = await storage.tools.put_preferences(alice, ToolPreferences(enabled={"current_time": False}))
        assert merged.enabled == {"calculator": True, "current_time": False}
        assert await storage.tools.get_preferences(alice) == merged
        assert await storage.tools.get_preferences(bob) == ToolPreferences()

    @pytest.mark.asyncio
    async def test_concurrent_preference_changes_all_land(self, storage: Storage) -> None:
        user = UserId("carol")
        await asyncio.gather(
            *(storage.tools.put_preferences(user, ToolPreferences(enabled={f"t{n}": True})) for n in range(8))
        )
        assert len((await storage.tools.get_preferences(user)).enabled) == 8


def _login(state: str, *, minutes: int = 10) -> LoginState:
    now = utc_now()
    return LoginState(
        state=state,
        code_verifier="v" * 43,
        nonce="n" * 16,
        redirect_uri="http://localhost:4200/auth/callback",
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )


class TestLoginStates:
    @pytest.mark.asyncio
    async def test_taken_once_by_any_handle(self, storage: Storage, other_storage: Storage) -> None:
        started = _login("s" * 32)
        await storage.login_states.put(started)
        assert await other_storage.login_states.take(started.state, now=utc_now()) == started
        assert await storage.login_states.take(started.state, now=utc_now()) is None

    @pytest.mark.asyncio
    async def test_expired_is_refused(self, storage: Storage) -> None:
        started = _login("e" * 32)
        await storage.login_states.put(started)
        assert await storage.login_states.take(started.state, now=started.expires_at) is None

    @pytest.mark.asyncio
    async def test_unknown_is_none(self, storage: Storage) -> None:
        assert await storage.login_states.take("u" * 32, now=utc_now()) is None

    @pytest.mark.asyncio
    async def test_duplicate_state_is_a_conflict(self, storage: Storage) -> None:
        await storage.login_states.put(_login("d" * 32))
        with pytest.raises(ConflictError):
            await storage.login_states.put(_login("d" * 32))

    @pytest.mark.asyncio
    async def test_concurrent_takes_give_it_once(self, storage: Storage, other_storage: Storage) -> None:
        started = _login("c" * 32)
        await storage.login_states.put(started)
        results = await asyncio.gather(
            *(
                handle.login_states.take(started.state, now=utc_now())
                for handle in [storage, other_storage] * 3
            )
        )
        assert sum(result is not None for result in results) == 1
