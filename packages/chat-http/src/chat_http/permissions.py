"""AppRole permissions at the edge: the role catalogue and the tool catalogue, cached with a TTL.

Both services resolve a caller's permissions with `chat_core.roles.resolve_permissions` over the
catalogue `RoleCatalogueCache` holds, and decide which tools a caller may use with `chat_core.roles`
over the entries `ToolCatalogueCache` holds. A change made through one process invalidates that
process's copy at once; every other process (replica, or the other service) reloads within `ttl`
seconds, which bounds how long an AppRole or catalogue change takes to apply everywhere. Nothing fails
open: when a catalogue has expired and its store cannot be read, the request fails with
`UnavailableError` (503), never "allow" and never a 403.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from chat_core.identity import User
from chat_core.ports import AppRoleRepository, ToolRepository
from chat_core.roles import AppRole, UserPermissions, resolve_permissions
from chat_core.tools import ToolDefinition
from chat_http.schemas import CacheStats

__all__ = ["CacheStats", "RoleCatalogueCache", "ToolCatalogueCache", "TtlReload"]

T = TypeVar("T")
V = TypeVar("V")


class TtlReload(Generic[V]):
    """A value read whole (a small catalogue), kept for `ttl` seconds; one reload at a time, shared by all.

    Requests that find the catalogue stale while a reload runs wait for that reload and share its
    result or its failure: with the store down, each request fails once within the storage deadline,
    instead of each retrying the read in turn after the one before it failed.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: V | None = None
        self._loaded_at = 0.0
        self._reloading: asyncio.Task[V] | None = None
        self._hits = 0
        self._loads = 0

    def _fresh(self) -> bool:
        return self._items is not None and time.monotonic() - self._loaded_at < self.ttl

    async def _get(self, load: Callable[[], Awaitable[V]]) -> V:
        if self._fresh():
            self._hits += 1
            assert self._items is not None
            return self._items
        started = self._reloading is None
        if self._reloading is None:
            self._reloading = asyncio.create_task(self._reload(load))
        # Shielded: a request that goes away does not cancel the reload the others wait for.
        items = await asyncio.shield(self._reloading)
        if not started:
            self._hits += 1
        return items

    async def _reload(self, load: Callable[[], Awaitable[V]]) -> V:
        try:
            loaded = await load()  # a failure propagates: nothing stale is served past the TTL
            self._items, self._loaded_at = loaded, time.monotonic()
            self._loads += 1
            return loaded
        finally:
            self._reloading = None

    def invalidate(self) -> None:
        """Forget the catalogue; the next request reloads it."""
        self._items = None


class RoleCatalogueCache(TtlReload[dict[str, AppRole]]):
    """The AppRole catalogue of one process, reloaded at most every `ttl` seconds."""

    def __init__(self, ttl: float = 30.0) -> None:
        super().__init__(ttl)

    async def catalogue(self, roles: AppRoleRepository) -> Mapping[str, AppRole]:
        """Every role by id, from the cache while it is fresh.

        Raises:
            UnavailableError: the cache expired and the store cannot be read.
        """

        async def load() -> dict[str, AppRole]:
            return {role.role_id: role for role in await roles.list()}

        return await self._get(load)

    async def permissions(self, roles: AppRoleRepository, user: User) -> UserPermissions:
        """What `user` may use (the one rule of `chat_core.roles`)."""
        return resolve_permissions(user, await self.catalogue(roles))

    def stats(self) -> CacheStats:
        """Size, age and counters of the cache (`GET /admin/roles/cache/stats`)."""
        age = time.monotonic() - self._loaded_at if self._items is not None else None
        return CacheStats(
            role_count=len(self._items or {}),
            age_seconds=None if age is None else round(age, 3),
            ttl_seconds=self.ttl,
            hits=self._hits,
            loads=self._loads,
            fresh=self._fresh(),
        )


class ToolCatalogueCache(TtlReload[dict[str, ToolDefinition]]):
    """The tool catalogue of one process (entries, not preferences), reloaded at most every `ttl` s."""

    def __init__(self, ttl: float = 30.0) -> None:
        super().__init__(ttl)

    async def catalogue(self, tools: ToolRepository) -> Mapping[str, ToolDefinition]:
        """Every catalogue entry by id, from the cache while it is fresh.

        Raises:
            UnavailableError: the cache expired and the store cannot be read.
        """

        async def load() -> dict[str, ToolDefinition]:
            return {tool.tool_id: tool for tool in await tools.list()}

        return await self._get(load)
