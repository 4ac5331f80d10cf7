"""Spend quotas at the edge: the tier catalogue, cached, and a caller's resolved quota.

Tiers and assignments are read whole and kept for `ttl` seconds (a change made through one process
invalidates that process's copy at once; the others reload within `ttl`), as the AppRole catalogue is.
A user's overrides are read fresh each time (one keyed query), so an override applies at once.
Nothing fails open: when the catalogue cannot be read, the error propagates (503).
"""

from __future__ import annotations

from datetime import datetime

from chat_core.identity import User
from chat_core.ports import QuotaRepository
from chat_core.quotas import QuotaCatalogue, ResolvedQuota, resolve_quota
from chat_core.roles import UserPermissions
from chat_http.permissions import TtlReload

__all__ = ["QuotaCatalogueCache", "resolve_user_quota"]

_OVERRIDES_PER_USER = 50


class QuotaCatalogueCache(TtlReload[QuotaCatalogue]):
    """The quota tiers and assignments of one process, reloaded at most every `ttl` seconds."""

    def __init__(self, ttl: float = 30.0) -> None:
        super().__init__(ttl)

    async def catalogue(self, quotas: QuotaRepository) -> QuotaCatalogue:
        """Tiers by id and every assignment, from the cache while it is fresh.

        Raises:
            UnavailableError: the cache expired and the store cannot be read.
        """

        async def load() -> QuotaCatalogue:
            tiers = await quotas.list_tiers()
            assignments = await quotas.list_assignments()
            return QuotaCatalogue(tiers={tier.tier_id: tier for tier in tiers}, assignments=assignments)

        return await self._get(load)


async def resolve_user_quota(
    quotas: QuotaRepository,
    cache: QuotaCatalogueCache,
    user: User,
    permissions: UserPermissions,
    *,
    at: datetime,
) -> ResolvedQuota:
    """Which tier and override apply to `user` at `at` (`chat_core.quotas.resolve_quota`)."""
    catalogue = await cache.catalogue(quotas)
    overrides = await quotas.list_overrides(user_id=user.user_id, limit=_OVERRIDES_PER_USER)
    return resolve_quota(
        user, catalogue, overrides, app_roles=permissions.app_roles, role_tier=permissions.quota_tier, at=at
    )
