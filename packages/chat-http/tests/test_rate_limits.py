"""Per-user rate limits over real SQLite counters: the same answers as the `limits` library's own.

Each hit of the sliding window is one storage call; its decisions and its RateLimit fields must be
exactly those of the library's `SlidingWindowCounterRateLimiter` over its in-memory storage, hit at
the same instants (a controlled clock) across window boundaries.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from pydantic import SecretStr

from chat_core.errors import RateLimitError
from chat_http.rate_limits import RateLimits
from chat_storage import LocalStorageConfig, Storage, open_storage

_START = 1_800_000_000.0  # a window boundary of every rate below (a multiple of 60 and of 3600)
# Seconds after _START: three windows of one minute, with bursts at their start, middle and end.
_INSTANTS = [1, 1, 2, 10, 10, 30, 59.5, 61, 61, 62, 75, 90, 90, 90, 119, 125, 150, 178, 179.9, 185]


class Clock:
    def __init__(self) -> None:
        self.now = _START

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "time", clock.time)
    return clock


@pytest_asyncio.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    config = LocalStorageConfig(data_dir=tmp_path / "data", blob_signing_secret=SecretStr("rate-test"))
    async with open_storage(config) as opened:
        yield opened


async def library_answer(
    limiter: SlidingWindowCounterRateLimiter, rate: str, user_id: str
) -> tuple[bool, int, int]:
    item = parse(rate)
    allowed = await limiter.hit(item, "turn", user_id)
    stats = await limiter.get_window_stats(item, "turn", user_id)
    return allowed, max(0, stats.remaining), max(0, math.ceil(stats.reset_time - time.time()))


async def our_answer(limits: RateLimits, user_id: str) -> tuple[bool, int, int]:
    try:
        state = await limits.hit("turn", user_id)
    except RateLimitError as refused:
        return False, refused.detail["remaining"], refused.detail["reset"]
    return True, state.remaining, state.reset_seconds


class TestSlidingWindow:
    @pytest.mark.parametrize("rate", ["5/minute", "3/minute", "1/minute"])
    @pytest.mark.asyncio
    async def test_answers_as_the_library_does_across_windows(
        self, storage: Storage, clock: Clock, rate: str
    ) -> None:
        limits = RateLimits(storage.rate_limits, turns=rate, writes="10/minute")
        limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        ours, theirs = [], []
        for instant in _INSTANTS:
            clock.now = _START + instant
            theirs.append(await library_answer(limiter, rate, "alice"))
            ours.append(await our_answer(limits, "alice"))
        allowed = [answer[0] for answer in theirs]
        assert False in allowed, "the schedule reaches the limit"
        assert allowed[-1], "and recovers"
        # A refusal reports at least 1 second to wait (`Retry-After`); otherwise the fields are equal.
        assert ours == [(ok, remaining, reset if ok else max(1, reset)) for ok, remaining, reset in theirs]

    @pytest.mark.asyncio
    async def test_each_user_and_each_limit_counts_apart(self, storage: Storage, clock: Clock) -> None:
        limits = RateLimits(storage.rate_limits, turns="1/minute", writes="1/minute")
        clock.now = _START + 5
        await limits.hit("turn", "alice")
        await limits.hit("write", "alice")
        await limits.hit("turn", "bob")
        with pytest.raises(RateLimitError):
            await limits.hit("turn", "alice")

    @pytest.mark.asyncio
    async def test_a_refused_hit_is_not_counted(self, storage: Storage, clock: Clock) -> None:
        limits = RateLimits(storage.rate_limits, turns="2/minute", writes="10/minute")
        clock.now = _START + 5
        for _ in range(2):
            await limits.hit("turn", "alice")
        for _ in range(5):
            with pytest.raises(RateLimitError):
                await limits.hit("turn", "alice")
        clock.now = _START + 60 + 45  # a quarter of the last window still weighs: 2 * 0.25 = 0.5
        state = await limits.hit("turn", "alice")
        assert state.remaining == 1, "the refused hits left nothing behind"
