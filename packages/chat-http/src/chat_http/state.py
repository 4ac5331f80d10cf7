"""The application state a service's lifespan builds, as the shared edge sees it.

Each service subclasses `ServiceState` with what its routes need and yields it from its lifespan with
`lifespan_state`; requests reach it through one accessor (`state_accessor(AppState)`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TypedDict, TypeVar

from starlette.requests import Request

from chat_agent.tools.registry import ToolRegistry
from chat_core.identity import User
from chat_http.auth import TokenVerifier, VerifiedTokens, build_token_verifier
from chat_http.knowledge import KnowledgeBases
from chat_http.permissions import RoleCatalogueCache, ToolCatalogueCache
from chat_http.quotas import QuotaCatalogueCache
from chat_http.rate_limits import RateLimits
from chat_http.secrets import blob_signing_secret
from chat_http.settings import EdgeSettings
from chat_http.telemetry import Telemetry, instrument_storage
from chat_storage import Storage, open_storage

__all__ = [
    "EdgeResources",
    "EdgeStateFields",
    "RecordedProfiles",
    "ServiceState",
    "lifespan_state",
    "open_edge_resources",
    "open_service_storage",
    "service_state",
    "state_accessor",
]

_KEY = "service"
S = TypeVar("S", bound="ServiceState")


class RecordedProfiles:
    """The callers whose profile a process has stored lately, so a profile is written once, not per request.

    At most `maxsize` callers are remembered (least recently seen first out): a process serving many
    users stays bounded, and asks storage once more for a caller it forgot (`users.remember` writes
    nothing for a known profile).
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        from cachetools import LRUCache  # imported by the lifespan, not with the service (cold start)

        self._seen: LRUCache[str, bool] = LRUCache(maxsize)

    def first_sight(self, user: User) -> bool:
        """Whether `user` is new to this process (then remembered)."""
        if self._seen.get(user.user_id):
            return False
        self._seen[user.user_id] = True
        return True


@dataclass(frozen=True, kw_only=True)
class ServiceState:
    """What every request of either service can reach: settings, storage and the token verifier."""

    settings: EdgeSettings
    storage: Storage
    verifier: TokenVerifier
    knowledge: KnowledgeBases
    tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    """Tokens that verified, kept for `CHAT_AUTH_CACHE_SECONDS` at most (`EdgeResources.state_fields`)."""
    recorded_profiles: RecordedProfiles = field(default_factory=RecordedProfiles)
    """Callers whose profile this process has recorded lately (bounded; written once, not per request)."""
    role_cache: RoleCatalogueCache = field(default_factory=RoleCatalogueCache)
    """The AppRole catalogue (services pass one with `ttl=settings.roles_cache_seconds`)."""
    telemetry: Telemetry = field(default_factory=Telemetry)
    """The process's metrics and tracer (`chat_http.telemetry.telemetry_of(app)`)."""
    tool_cache: ToolCatalogueCache = field(default_factory=ToolCatalogueCache)
    """The tool catalogue's entries (same TTL as the roles: together they decide who may use a tool)."""
    tool_registry: ToolRegistry = field(default_factory=ToolRegistry)
    """The tools this platform runs: the catalogue only offers these."""
    quota_cache: QuotaCatalogueCache = field(default_factory=QuotaCatalogueCache)
    """Quota tiers and assignments (services pass one with `ttl=settings.quota_cache_seconds`)."""
    rate_limits: RateLimits | None = None
    """The per-user request-rate limits (`None` when `CHAT_RATE_LIMITS_ENABLED=false`)."""


def lifespan_state(state: ServiceState) -> dict[str, ServiceState]:
    """What a lifespan yields so that `service_state` finds `state` on every request."""
    return {_KEY: state}


def service_state(request: Request) -> ServiceState:
    """The state the lifespan built, as the edge sees it."""
    state = getattr(request.state, _KEY)
    assert isinstance(state, ServiceState), "the lifespan yields lifespan_state(...)"
    return state


def state_accessor(cls: type[S]) -> Callable[[Request], S]:
    """The accessor of a service's own state class (a FastAPI dependency)."""

    def get_state(request: Request) -> S:
        state = service_state(request)
        assert isinstance(state, cls)
        return state

    get_state.__doc__ = f"The {cls.__name__} the lifespan opened for this process."
    return get_state


class EdgeStateFields(TypedDict):
    """The `ServiceState` fields every service fills the same way (`EdgeResources.state_fields`)."""

    storage: Storage
    verifier: TokenVerifier
    tokens: VerifiedTokens
    knowledge: KnowledgeBases
    telemetry: Telemetry
    role_cache: RoleCatalogueCache
    tool_cache: ToolCatalogueCache
    quota_cache: QuotaCatalogueCache
    rate_limits: RateLimits | None


@dataclass(frozen=True, slots=True)
class EdgeResources:
    """What every service opens first: storage, the token verifier, the knowledge base, the caches."""

    storage: Storage
    verifier: TokenVerifier
    tokens: VerifiedTokens
    knowledge: KnowledgeBases
    telemetry: Telemetry
    role_cache: RoleCatalogueCache
    tool_cache: ToolCatalogueCache
    quota_cache: QuotaCatalogueCache
    rate_limits: RateLimits | None = None
    """Built from the settings over the storage's counters (`None` when disabled)."""

    def state_fields(self) -> EdgeStateFields:
        """The shared part of a service's state: `AppState(settings=..., **edge.state_fields(), ...)`."""
        return EdgeStateFields(
            storage=self.storage,
            verifier=self.verifier,
            tokens=self.tokens,
            knowledge=self.knowledge,
            telemetry=self.telemetry,
            role_cache=self.role_cache,
            tool_cache=self.tool_cache,
            quota_cache=self.quota_cache,
            rate_limits=self.rate_limits,
        )


@asynccontextmanager
async def open_service_storage(settings: EdgeSettings) -> AsyncIterator[Storage]:
    """Storage as the settings configure it, with the data directory's blob-signing secret."""
    async with open_storage(settings.storage_config(blob_signing_secret(settings))) as storage:
        yield storage


async def open_edge_resources(
    settings: EdgeSettings, stack: AsyncExitStack, *, telemetry: Telemetry | None = None
) -> EdgeResources:
    """Open storage and the verifier, prepare the knowledge base (opened on first use) and the caches.

    With `telemetry`, every storage call is timed and traced (`chat_http.telemetry.instrument_storage`).
    Everything is closed with `stack`, the knowledge base before storage. The role and tool caches
    share `CHAT_ROLES_CACHE_SECONDS`, the quota cache has `CHAT_QUOTA_CACHE_SECONDS`, verified tokens
    are kept for `CHAT_AUTH_CACHE_SECONDS` at most.
    """
    verifier = build_token_verifier(settings)
    storage = await stack.enter_async_context(open_service_storage(settings))
    if telemetry is not None:
        storage = instrument_storage(storage, telemetry)
    knowledge = KnowledgeBases(settings.rag_config())
    stack.push_async_callback(knowledge.aclose)
    rate_limits = (
        RateLimits(
            storage.rate_limits,
            turns=settings.rate_limit_turns,
            writes=settings.rate_limit_writes,
            strategy=settings.rate_limit_strategy,
            metrics=telemetry.metrics if telemetry is not None else None,
        )
        if settings.rate_limits_enabled
        else None
    )
    return EdgeResources(
        storage=storage,
        verifier=verifier,
        tokens=VerifiedTokens(ttl=settings.auth_cache_seconds),
        knowledge=knowledge,
        telemetry=telemetry if telemetry is not None else Telemetry(),
        role_cache=RoleCatalogueCache(ttl=settings.roles_cache_seconds),
        tool_cache=ToolCatalogueCache(ttl=settings.roles_cache_seconds),
        quota_cache=QuotaCatalogueCache(ttl=settings.quota_cache_seconds),
        rate_limits=rate_limits,
    )
