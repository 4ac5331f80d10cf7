"""Per-user request-rate limits, shared by every replica: the `limits` strategies over storage counters.

The strategies (sliding-window counter by default, or fixed window) are the `limits` library's; what
this module adds is a `limits` storage backed by `chat_core.ports.RateLimitCounters`, i.e. the
service's own storage backend (SQLite rows or DynamoDB items), so every replica counts the same
requests. The sliding-window arithmetic itself is the library's, taken from its in-memory storage,
which computes it over the same three primitives (`get`, `incr`, `decr`) that ours provides.

A refused request is 429 `rate_limit_exceeded` with `Retry-After` and the IETF fields
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds). If the counters cannot be
reached the request fails with 503: a limit is never skipped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, SlidingWindowCounterSupport, Storage
from limits.aio.strategies import FixedWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
from limits.storage.base import TimestampedSlidingWindow

from chat_core.errors import ChatError, RateLimitError
from chat_core.ports import RateLimitCounters
from chat_http.metrics import EdgeMetrics, RateLimitName

__all__ = ["CounterStorage", "RateLimitState", "RateLimits", "Strategy"]

Strategy = Literal["sliding-window", "fixed-window"]


class CounterStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """A `limits` storage over `RateLimitCounters` (shared by replicas)."""

    STORAGE_SCHEME = None

    def __init__(self, counters: RateLimitCounters) -> None:
        super().__init__(uri=None, wrap_exceptions=False)
        self._counters = counters

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """Errors of the counters (already typed `chat_core` errors; passed through unchanged)."""
        return ChatError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add to a live counter or start an expired one."""
        return await self._counters.incr(key, int(expiry), amount)

    async def decr(self, key: str, amount: int = 1) -> int:
        """Take back what a refused sliding-window hit added."""
        return await self._counters.decr(key, amount)

    async def get(self, key: str) -> int:
        """The live counter."""
        return await self._counters.get(key)

    async def get_expiry(self, key: str) -> float:
        """When the counter expires (epoch seconds)."""
        return await self._counters.expires_at(key)

    async def check(self) -> bool:
        """Healthy when a counter can be read."""
        await self._counters.get("health")
        return True

    async def reset(self) -> int | None:
        """Not supported on shared storage (counters expire by themselves)."""
        return None

    async def clear(self, key: str) -> None:
        """Remove one counter."""
        await self._counters.clear(key)

    # The library's sliding-window counter, written once in its in-memory storage over the primitives above.
    acquire_sliding_window_entry = MemoryStorage.acquire_sliding_window_entry
    get_sliding_window = MemoryStorage.get_sliding_window
    clear_sliding_window = MemoryStorage.clear_sliding_window
    _get_sliding_window_info = MemoryStorage._get_sliding_window_info


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """A limit after a request was counted (or refused): the IETF RateLimit fields."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimits:
    """The per-user limits of one service (`turn` for chat turns, `write` for write routes)."""

    def __init__(
        self,
        counters: RateLimitCounters,
        *,
        turns: str,
        writes: str,
        strategy: Strategy = "sliding-window",
        metrics: EdgeMetrics | None = None,
    ) -> None:
        storage = CounterStorage(counters)
        self._limiter: RateLimiter = (
            SlidingWindowCounterRateLimiter(storage)
            if strategy == "sliding-window"
            else FixedWindowRateLimiter(storage)
        )
        self._items: dict[RateLimitName, RateLimitItem] = {"turn": parse(turns), "write": parse(writes)}
        self._metrics = metrics

    async def hit(self, name: RateLimitName, user_id: str) -> RateLimitState:
        """Count one request of `user_id` against limit `name`.

        Raises:
            RateLimitError: the limit is reached (429, with the RateLimit fields as `detail`).
            UnavailableError: the counters cannot be reached (503).
        """
        item = self._items[name]
        allowed = await self._limiter.hit(item, name, user_id)
        stats = await self._limiter.get_window_stats(item, name, user_id)
        state = RateLimitState(
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
        )
        if not allowed:
            if self._metrics is not None:
                self._metrics.rate_limit_refused(name)
            raise RateLimitError(
                f"Too many {'chat turns' if name == 'turn' else 'changes'}; try again in "
                f"{max(1, state.reset_seconds)} seconds.",
                retry_after=max(1, state.reset_seconds),
                detail={"limit": state.limit, "remaining": 0, "reset": max(1, state.reset_seconds)},
            )
        return state
