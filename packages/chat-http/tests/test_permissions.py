"""The role and tool catalogue caches: TTL, invalidation, one reload at a time, and no fail-open."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence

import pytest

from chat_core.errors import UnavailableError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_core.roles import AppRole
from chat_core.tools import ToolDefinition
from chat_http.permissions import RoleCatalogueCache, ToolCatalogueCache


class FakeAppRoleRepository:
    """`AppRoleRepository` in memory, counting reads; `down` makes every read fail as storage would."""

    def __init__(self, roles: Sequence[AppRole]) -> None:
        self.roles = {role.role_id: role for role in roles}
        self.reads = 0
        self.down = False

    async def get(self, role_id: str) -> AppRole | None:
        return self.roles.get(role_id)

    async def list(self) -> builtins.list[AppRole]:
        self.reads += 1
        await asyncio.sleep(0)
        if self.down:
            raise UnavailableError("Storage is unavailable: could not list roles (test).")
        return sorted(self.roles.values(), key=lambda role: role.role_id)

    async def create(self, role: AppRole) -> AppRole:
        self.roles[role.role_id] = role
        return role

    async def put_many(self, roles: Sequence[AppRole]) -> None:
        self.roles.update({role.role_id: role for role in roles})

    async def delete(self, role_id: str) -> bool:
        return self.roles.pop(role_id, None) is not None


class FakeToolRepository:
    """The catalogue half of `ToolRepository` in memory (what the cache reads)."""

    def __init__(self, tools: Sequence[ToolDefinition]) -> None:
        self.tools = {tool.tool_id: tool for tool in tools}
        self.down = False

    async def list(self) -> builtins.list[ToolDefinition]:
        if self.down:
            raise UnavailableError("Storage is unavailable: could not list tools (test).")
        return sorted(self.tools.values(), key=lambda tool: tool.tool_id)


def staff_role(**changes: object) -> AppRole:
    fields = {"role_id": "staff", "display_name": "Staff", "jwt_role_mappings": ["Staff"]}
    return AppRole.model_validate(fields | {"granted_tools": ["calculator"]} | changes)


STAFF = User(user_id=UserId("u-1"), email="u@example.com", roles=["Staff"])


class TestRoleCatalogueCache:
    @pytest.mark.asyncio
    async def test_reads_once_within_the_ttl_and_again_after_invalidation(self) -> None:
        store = FakeAppRoleRepository([staff_role()])
        cache = RoleCatalogueCache(ttl=3600)
        assert (await cache.permissions(store, STAFF)).tools == ["calculator"]
        store.roles["staff"] = staff_role(granted_tools=["current_time"])
        assert (await cache.permissions(store, STAFF)).tools == ["calculator"]
        assert store.reads == 1
        cache.invalidate()
        assert (await cache.permissions(store, STAFF)).tools == ["current_time"]
        assert (cache.stats().loads, cache.stats().hits, cache.stats().role_count) == (2, 1, 1)

    @pytest.mark.asyncio
    async def test_a_zero_ttl_reads_every_time(self) -> None:
        store = FakeAppRoleRepository([staff_role()])
        cache = RoleCatalogueCache(ttl=0)
        for _ in range(3):
            await cache.catalogue(store)
        assert store.reads == 3

    @pytest.mark.asyncio
    async def test_concurrent_requests_share_one_reload(self) -> None:
        store = FakeAppRoleRepository([staff_role()])
        cache = RoleCatalogueCache(ttl=3600)
        await asyncio.gather(*(cache.catalogue(store) for _ in range(10)))
        assert store.reads == 1

    @pytest.mark.asyncio
    async def test_requests_waiting_on_a_failing_reload_share_its_failure(self) -> None:
        """With the store down, ten requests fail together after one read, not one after another."""
        store = FakeAppRoleRepository([staff_role()])
        store.down = True
        cache = RoleCatalogueCache(ttl=3600)
        results = await asyncio.gather(*(cache.catalogue(store) for _ in range(10)), return_exceptions=True)
        assert all(isinstance(result, UnavailableError) for result in results)
        assert store.reads == 1
        store.down = False  # the next request reads again: no failure is kept
        assert "staff" in await cache.catalogue(store)
        assert store.reads == 2

    @pytest.mark.asyncio
    async def test_an_unreadable_store_is_unavailable_once_the_cache_expired(self) -> None:
        store = FakeAppRoleRepository([staff_role()])
        cache = RoleCatalogueCache(ttl=3600)
        await cache.catalogue(store)
        store.down = True
        assert (await cache.permissions(store, STAFF)).tools == ["calculator"]  # within the TTL
        cache.invalidate()
        with pytest.raises(UnavailableError):
            await cache.permissions(store, STAFF)
        with pytest.raises(UnavailableError):  # nothing stale is kept to fall back on
            await cache.permissions(store, STAFF)
        assert cache.stats().fresh is False


class TestToolCatalogueCache:
    @pytest.mark.asyncio
    async def test_entries_by_id_and_unavailable_when_unreadable(self) -> None:
        store = FakeToolRepository([ToolDefinition(tool_id="calculator", display_name="Calculator")])
        cache = ToolCatalogueCache(ttl=3600)
        assert list(await cache.catalogue(store)) == ["calculator"]
        store.down = True
        cache.invalidate()
        with pytest.raises(UnavailableError):
            await cache.catalogue(store)
