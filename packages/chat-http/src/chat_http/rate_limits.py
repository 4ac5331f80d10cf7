"""Per-user request-rate limits, shared by every replica: the `limits` strategies over storage counters.

The strategies (sliding-window counter by default, or fixed window) are the `limits` library's, and
the counters are the service's own storage backend (`chat_core.ports.RateLimitCounters`: SQLite rows
or DynamoDB items), so every replica counts the same requests.

A sliding-window hit is one storage call: `add_to_window` counts the request and returns both
windows' counts, and the library's arithmetic runs on them (`_SlidingWindow`: the weighted count
decides, as the library's storages do it in `acquire_sliding_window_entry`, and the window stats are
computed from the same counts as `SlidingWindowCounterRateLimiter.get_window_stats` does, instead of
being read again). A refused hit takes its count back (a second call, only then). The fixed window is
the library's `FixedWindowRateLimiter` over a `limits` storage of those counters (`CounterStorage`).

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
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.util import WindowStats

from chat_core.errors import ChatError, RateLimitError
from chat_core.ports import RateLimitCounters
from chat_http.metrics import EdgeMetrics, RateLimitName

__all__ = ["CounterStorage", "RateLimitState", "RateLimits", "Strategy"]

Strategy = Literal["sliding-window", "fixed-window"]


class CounterStorage(Storage):
    """A `limits` storage over `RateLimitCounters` (shared by replicas), for the fixed window."""

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
        """Take back part of a count."""
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


class _SlidingWindow:
    """The `limits` sliding-window counter, each hit one `add_to_window` call.

    The arithmetic is the library's (5.x): `MemoryStorage._get_sliding_window_info` for the windows'
    time to live, `acquire_sliding_window_entry` for the decision (the floor of the weighted count,
    taken after the increment; a refused hit is taken back), and
    `SlidingWindowCounterRateLimiter.get_window_stats` for what remains and when it resets.
    """

    def __init__(self, counters: RateLimitCounters) -> None:
        self._counters = counters

    async def hit(self, item: RateLimitItem, key: str, amount: int = 1) -> tuple[bool, WindowStats]:
        """Count one request; whether it is allowed and the window stats after it."""
        expiry = item.get_expiry()
        limit = item.amount
        now = time.time()
        window = int(now / expiry)
        if amount > limit:
            return False, WindowStats(now, 0)
        counts = await self._counters.add_to_window(key, window, expiry, amount)
        previous, current = counts.previous, counts.current
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        allowed = math.floor(previous * previous_ttl / expiry + current) <= limit
        if not allowed:  # another hit won the race (or the limit was reached): this one is not counted
            current = await self._counters.take_from_window(key, window, amount)
        remaining = max(0, limit - math.floor(previous * previous_ttl / expiry + current))
        if not (previous or current):
            return allowed, WindowStats(now, remaining)
        previous_reset_in = previous_ttl % (expiry / previous) if previous else math.inf
        current_reset_in = current_ttl % expiry if current else math.inf
        return allowed, WindowStats(now + min(previous_reset_in, current_reset_in), remaining)


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
        self._sliding = _SlidingWindow(counters) if strategy == "sliding-window" else None
        self._fixed = FixedWindowRateLimiter(CounterStorage(counters))
        self._items: dict[RateLimitName, RateLimitItem] = {"turn": parse(turns), "write": parse(writes)}
        self._metrics = metrics

    async def hit(self, name: RateLimitName, user_id: str) -> RateLimitState:
        """Count one request of `user_id` against limit `name`.

        Raises:
            RateLimitError: the limit is reached (429, with the RateLimit fields as `detail`).
            UnavailableError: the counters cannot be reached (503).
        """
        item = self._items[name]
        if self._sliding is not None:
            allowed, stats = await self._sliding.hit(item, item.key_for(name, user_id))
        else:
            allowed = await self._fixed.hit(item, name, user_id)
            stats = await self._fixed.get_window_stats(item, name, user_id)
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
