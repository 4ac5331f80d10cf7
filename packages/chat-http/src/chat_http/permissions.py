"""AppRole permissions at the edge: the role catalogue, cached with a TTL and invalidation.

Both services resolve a caller's permissions with `chat_core.roles.resolve_permissions` over the
catalogue this cache holds. A change made through one process invalidates that process's copy at once;
every other process (replica, or the other service) reloads within `ttl` seconds, which bounds how long
an AppRole change takes to apply everywhere. Nothing fails open: when the catalogue has expired and the
store cannot be read, the request fails with `UnavailableError` (503), never "allow" and never a 403.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from chat_core.identity import User
from chat_core.ports import AppRoleRepository
from chat_core.roles import AppRole, UserPermissions, resolve_permissions
from chat_http.schemas import CacheStats

__all__ = ["CacheStats", "RoleCatalogueCache"]


class RoleCatalogueCache:
    """The AppRole catalogue of one process, reloaded at most every `ttl` seconds."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._roles: dict[str, AppRole] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._hits = 0
        self._loads = 0

    def _fresh(self) -> bool:
        return self._roles is not None and time.monotonic() - self._loaded_at < self.ttl

    async def catalogue(self, roles: AppRoleRepository) -> Mapping[str, AppRole]:
        """Every role by id, from the cache while it is fresh.

        Raises:
            UnavailableError: the cache expired and the store cannot be read.
        """
        if self._fresh():
            self._hits += 1
            assert self._roles is not None
            return self._roles
        async with self._lock:  # one reload at a time; the others wait for it
            if not self._fresh():
                loaded = {role.role_id: role for role in await roles.list()}
                self._roles, self._loaded_at = loaded, time.monotonic()
                self._loads += 1
            else:
                self._hits += 1
            assert self._roles is not None
            return self._roles

    async def permissions(self, roles: AppRoleRepository, user: User) -> UserPermissions:
        """What `user` may use (the one rule of `chat_core.roles`)."""
        return resolve_permissions(user, await self.catalogue(roles))

    def invalidate(self) -> None:
        """Forget the catalogue; the next request reloads it."""
        self._roles = None

    def stats(self) -> CacheStats:
        """Size, age and counters of the cache."""
        age = time.monotonic() - self._loaded_at if self._roles is not None else None
        return CacheStats(
            role_count=len(self._roles or {}),
            age_seconds=None if age is None else round(age, 3),
            ttl_seconds=self.ttl,
            hits=self._hits,
            loads=self._loads,
            fresh=self._fresh(),
        )
