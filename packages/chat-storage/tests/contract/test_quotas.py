"""Quota configuration, usage counters, reservations, cost rollups and rate counters, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_core.ports import WindowCounts
from chat_core.quotas import (
    AssignmentType,
    OverrideType,
    QuotaAssignment,
    QuotaEvent,
    QuotaEventType,
    QuotaOverride,
    QuotaStamp,
    QuotaTier,
)
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
AT = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
PRICING = PricingSnapshot(input_price_per_mtok=1_000_000.0, output_price_per_mtok=0.0)
"""One dollar per input token: costs are easy to read."""


def tier(tier_id: str = "basic", **changes: object) -> QuotaTier:
    return QuotaTier.model_validate(
        {"tier_id": tier_id, "tier_name": tier_id.title(), "monthly_cost_limit": 10.0} | changes
    )


def record(
    number: int,
    *,
    user_id: UserId = ALICE,
    dollars: int = 1,
    at: datetime = AT,
    model_id: str = "model-a",
    quota: QuotaStamp | None = None,
) -> CostRecord:
    return CostRecord.for_turn(
        user_id=user_id,
        session_id=SessionId("s-1"),
        message_id=f"msg-s-1-{number}",
        model_id=model_id,
        model_name=model_id.upper(),
        provider="bedrock",
        usage=TokenUsage(input_tokens=dollars, output_tokens=5, total_tokens=dollars + 5),
        pricing=PRICING,
        timestamp=at,
        quota=quota,
    )


class TestTiers:
    @pytest.mark.asyncio
    async def test_create_list_replace_delete(self, storage: Storage) -> None:
        await storage.quotas.create_tier(tier("basic"))
        await storage.quotas.create_tier(tier("advanced", monthly_cost_limit=50.0))
        assert [found.tier_id for found in await storage.quotas.list_tiers()] == ["advanced", "basic"]
        with pytest.raises(ConflictError):
            await storage.quotas.create_tier(tier("basic"))
        await storage.quotas.put_tier(tier("basic", monthly_cost_limit=20.0))
        stored = await storage.quotas.get_tier("basic")
        assert stored is not None
        assert stored.monthly_cost_limit == 20.0
        assert await storage.quotas.delete_tier("basic") is True
        assert await storage.quotas.delete_tier("basic") is False
        assert await storage.quotas.get_tier("basic") is None

    @pytest.mark.asyncio
    async def test_an_unsafe_id_is_refused(self, storage: Storage) -> None:
        with pytest.raises(InvalidInputError):
            await storage.quotas.get_tier("../x")


class TestAssignmentsAndOverrides:
    @pytest.mark.asyncio
    async def test_assignments_round_trip(self, storage: Storage) -> None:
        assignment = QuotaAssignment(
            assignment_id="a-1",
            tier_id="basic",
            assignment_type=AssignmentType.EMAIL_DOMAIN,
            email_domain="x.org",
        )
        await storage.quotas.put_assignment(assignment)
        assert await storage.quotas.list_assignments() == [assignment]
        assert await storage.quotas.get_assignment("a-1") == assignment
        assert await storage.quotas.delete_assignment("a-1") is True
        assert await storage.quotas.list_assignments() == []

    @pytest.mark.asyncio
    async def test_overrides_by_user_latest_ending_first(self, storage: Storage) -> None:
        def override(override_id: str, user_id: str, days: int) -> QuotaOverride:
            return QuotaOverride(
                override_id=override_id,
                user_id=user_id,
                override_type=OverrideType.UNLIMITED,
                valid_from=AT,
                valid_until=AT + timedelta(days=days),
                reason="conference",
            )

        await storage.quotas.put_override(override("o-1", "alice", 1))
        await storage.quotas.put_override(override("o-2", "alice", 5))
        await storage.quotas.put_override(override("o-3", "bob", 3))
        mine = await storage.quotas.list_overrides(user_id=ALICE)
        assert [found.override_id for found in mine] == ["o-2", "o-1"]
        assert [found.override_id for found in await storage.quotas.list_overrides()] == ["o-2", "o-3", "o-1"]
        changed = override("o-1", "alice", 9)
        await storage.quotas.put_override(changed)
        assert [found.override_id for found in await storage.quotas.list_overrides(user_id=ALICE)] == [
            "o-1",
            "o-2",
        ]
        assert await storage.quotas.delete_override("o-1") is True
        assert await storage.quotas.get_override("o-1") is None


class TestEvents:
    @pytest.mark.asyncio
    async def test_once_per_id_newest_first_and_filtered(self, storage: Storage) -> None:
        def event(
            event_id: str, user_id: str, kind: QuotaEventType, minutes: int, tier_id: str = "basic"
        ) -> QuotaEvent:
            return QuotaEvent(
                event_id=event_id,
                user_id=user_id,
                tier_id=tier_id,
                event_type=kind,
                current_usage=8.0,
                quota_limit=10.0,
                percentage_used=80.0,
                timestamp=datetime.now(UTC) - timedelta(minutes=minutes),
            )

        assert await storage.quotas.record_event(event("e-1", "alice", QuotaEventType.WARNING, 3)) is True
        assert await storage.quotas.record_event(event("e-1", "alice", QuotaEventType.WARNING, 3)) is False
        await storage.quotas.record_event(event("e-2", "bob", QuotaEventType.BLOCK, 2, tier_id="pro"))
        await storage.quotas.record_event(event("e-3", "alice", QuotaEventType.BLOCK, 1))
        assert [found.event_id for found in await storage.quotas.list_events()] == ["e-3", "e-2", "e-1"]
        assert [found.event_id for found in await storage.quotas.list_events(user_id=ALICE)] == ["e-3", "e-1"]
        assert [found.event_id for found in await storage.quotas.list_events(tier_id="pro")] == ["e-2"]
        blocks = await storage.quotas.list_events(event_type=QuotaEventType.BLOCK, limit=1)
        assert [found.event_id for found in blocks] == ["e-3"]


class TestUsageCounters:
    @pytest.mark.asyncio
    async def test_a_cost_record_counts_on_its_utc_day_and_month(self, storage: Storage) -> None:
        await storage.costs.record(record(1, dollars=2))
        await storage.costs.record(record(2, dollars=3, at=AT + timedelta(days=1)))
        await storage.costs.record(record(3, dollars=4, at=datetime(2025, 4, 1, 0, 0, 1, tzinfo=UTC)))
        usage = await storage.usage.usage(ALICE, at=AT)
        assert (usage.daily.spent, usage.monthly.spent) == (2.0, 5.0)
        april = await storage.usage.usage(ALICE, at=datetime(2025, 4, 1, 5, tzinfo=UTC))
        assert (april.daily.spent, april.monthly.spent) == (4.0, 4.0)
        assert (await storage.usage.usage(BOB, at=AT)).monthly.spent == 0.0

    @pytest.mark.asyncio
    async def test_a_retried_record_counts_once(self, storage: Storage) -> None:
        assert await storage.costs.record(record(1, dollars=2)) is True
        assert await storage.costs.record(record(1, dollars=2)) is False
        assert (await storage.usage.usage(ALICE, at=AT)).monthly.spent == 2.0


class TestReservations:
    @pytest.mark.asyncio
    async def test_admits_while_spent_plus_reserved_is_below_the_limit(self, storage: Storage) -> None:
        expires = AT + timedelta(minutes=15)
        admitted, seen = await storage.usage.reserve(
            ALICE, "r-1", 6.0, at=AT, expires_at=expires, daily_limit=None, monthly_limit=10.0
        )
        assert admitted is True
        assert seen.monthly.reserved == 0.0
        admitted, seen = await storage.usage.reserve(
            ALICE, "r-2", 6.0, at=AT, expires_at=expires, daily_limit=None, monthly_limit=10.0
        )
        assert admitted is True
        assert seen.monthly.reserved == 6.0
        admitted, seen = await storage.usage.reserve(
            ALICE, "r-3", 1.0, at=AT, expires_at=expires, daily_limit=None, monthly_limit=10.0
        )
        assert admitted is False
        assert seen.monthly.reserved == 12.0
        assert await storage.usage.release(ALICE, "r-2") is True
        assert await storage.usage.release(ALICE, "r-2") is False
        assert (await storage.usage.usage(ALICE, at=AT)).monthly.reserved == 6.0

    @pytest.mark.asyncio
    async def test_the_daily_limit_is_checked_on_the_day(self, storage: Storage) -> None:
        await storage.costs.record(record(1, dollars=3, at=AT - timedelta(days=1)))
        await storage.costs.record(record(2, dollars=2))
        expires = AT + timedelta(minutes=15)
        admitted, seen = await storage.usage.reserve(
            ALICE, "r-1", 0.5, at=AT, expires_at=expires, daily_limit=2.0, monthly_limit=100.0
        )
        assert admitted is False
        assert (seen.daily.spent, seen.monthly.spent) == (2.0, 5.0)
        tomorrow = AT + timedelta(days=1)
        admitted, _ = await storage.usage.reserve(
            ALICE,
            "r-2",
            0.5,
            at=tomorrow,
            expires_at=tomorrow + timedelta(minutes=15),
            daily_limit=2.0,
            monthly_limit=100.0,
        )
        assert admitted is True

    @pytest.mark.asyncio
    async def test_the_stored_turn_replaces_its_reservation_with_its_cost(self, storage: Storage) -> None:
        await storage.usage.reserve(
            ALICE,
            "r-1",
            5.0,
            at=AT,
            expires_at=AT + timedelta(minutes=15),
            daily_limit=None,
            monthly_limit=10.0,
        )
        await storage.costs.record(
            record(1, dollars=2, quota=QuotaStamp(tier_id="basic", reservation_id="r-1"))
        )
        usage = await storage.usage.usage(ALICE, at=AT)
        assert (usage.monthly.spent, usage.monthly.reserved) == (2.0, 0.0)
        assert (usage.daily.spent, usage.daily.reserved) == (2.0, 0.0)

    @pytest.mark.asyncio
    async def test_a_turn_ending_next_month_releases_last_month(self, storage: Storage) -> None:
        evening = datetime(2025, 3, 31, 23, 59, 58, tzinfo=UTC)
        await storage.usage.reserve(
            ALICE,
            "r-1",
            5.0,
            at=evening,
            expires_at=evening + timedelta(minutes=15),
            daily_limit=None,
            monthly_limit=10.0,
        )
        after = datetime(2025, 4, 1, 0, 0, 3, tzinfo=UTC)
        await storage.costs.record(record(1, dollars=2, at=after, quota=QuotaStamp(reservation_id="r-1")))
        march = await storage.usage.usage(ALICE, at=evening)
        april = await storage.usage.usage(ALICE, at=after)
        assert (march.monthly.spent, march.monthly.reserved, march.daily.reserved) == (0.0, 0.0, 0.0)
        assert (april.monthly.spent, april.daily.spent) == (2.0, 2.0)

    @pytest.mark.asyncio
    async def test_expired_reservations_are_released(self, storage: Storage) -> None:
        await storage.usage.reserve(
            ALICE,
            "r-1",
            9.0,
            at=AT,
            expires_at=AT + timedelta(minutes=1),
            daily_limit=None,
            monthly_limit=10.0,
        )
        later = AT + timedelta(minutes=2)
        admitted, seen = await storage.usage.reserve(
            ALICE,
            "r-2",
            9.0,
            at=later,
            expires_at=later + timedelta(minutes=1),
            daily_limit=None,
            monthly_limit=5.0,
        )
        assert admitted is True
        assert seen.monthly.reserved == 0.0

    @pytest.mark.asyncio
    async def test_concurrent_reservations_never_overshoot(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        expires = AT + timedelta(minutes=15)

        async def attempt(number: int) -> bool:
            handle = storage if number % 2 else other_storage
            admitted, _ = await handle.usage.reserve(
                ALICE, f"r-{number}", 2.0, at=AT, expires_at=expires, daily_limit=None, monthly_limit=10.0
            )
            return admitted

        results = await asyncio.gather(*(attempt(number) for number in range(20)))
        assert sum(results) == 5
        assert (await storage.usage.usage(ALICE, at=AT)).monthly.reserved == 10.0


class TestRollups:
    @pytest.mark.asyncio
    async def test_totals_models_tiers_and_distinct_users(self, storage: Storage) -> None:
        stamp = QuotaStamp(tier_id="basic", tier_name="Basic", monthly_limit=10.0, soft_limit_percentage=50.0)
        await storage.costs.record(record(1, dollars=4, quota=stamp))
        await storage.costs.record(record(2, dollars=4, quota=stamp))
        await storage.costs.record(record(3, dollars=3, quota=stamp, model_id="model-b"))
        await storage.costs.record(record(4, user_id=BOB, dollars=1, quota=stamp, at=AT + timedelta(days=1)))
        month = await storage.usage.rollup("2025-03")
        assert (month.total_cost, month.total_requests, month.active_users) == (12.0, 4, 2)
        assert [(model.model_id, model.total_cost, model.unique_users) for model in month.models] == [
            ("model-a", 9.0, 2),
            ("model-b", 3.0, 1),
        ]
        (basic,) = month.tiers
        assert (basic.tier_id, basic.tier_name, basic.total_users) == ("basic", "Basic", 2)
        assert (basic.users_warned, basic.users_at_limit) == (1, 1)
        assert basic.utilization_sum == pytest.approx(1.2)
        day = await storage.usage.rollup("2025-03-14")
        assert (day.total_cost, day.active_users) == (11.0, 1)
        days = await storage.usage.daily_rollups(date(2025, 3, 1), date(2025, 3, 31))
        assert [(rollup.period, rollup.total_cost) for rollup in days] == [
            ("2025-03-14", 11.0),
            ("2025-03-15", 1.0),
        ]
        top = await storage.usage.top_users("2025-03", limit=10)
        assert [(row.user_id, row.total_cost, row.total_requests) for row in top] == [
            ("alice", 11.0, 3),
            ("bob", 1.0, 1),
        ]
        assert (top[0].tier_id, top[0].quota_limit) == ("basic", 10.0)
        assert [row.user_id for row in await storage.usage.top_users("2025-03", limit=10, min_cost=2.0)] == [
            "alice"
        ]
        assert (await storage.usage.rollup("2024-01")).total_cost == 0.0


class TestRateCounters:
    @pytest.mark.asyncio
    async def test_counts_expires_and_clears(self, storage: Storage) -> None:
        assert await storage.rate_limits.incr("k", 60) == 1
        assert await storage.rate_limits.incr("k", 60, 2) == 3
        assert await storage.rate_limits.get("k") == 3
        assert await storage.rate_limits.decr("k") == 2
        assert await storage.rate_limits.expires_at("k") > datetime.now(UTC).timestamp() + 50
        await storage.rate_limits.clear("k")
        assert await storage.rate_limits.get("k") == 0

    @pytest.mark.asyncio
    async def test_concurrent_increments_are_all_counted(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        values = await asyncio.gather(
            *(
                (storage if number % 2 else other_storage).rate_limits.incr("burst", 60)
                for number in range(20)
            )
        )
        assert sorted(values) == list(range(1, 21))


class TestRateWindows:
    @pytest.mark.asyncio
    async def test_counts_within_a_window_and_rotates_into_the_next(self, storage: Storage) -> None:
        windows = storage.rate_limits
        assert await windows.add_to_window("w", 100, 60) == WindowCounts(previous=0, current=1)
        assert await windows.add_to_window("w", 100, 60, 2) == WindowCounts(previous=0, current=3)
        assert await windows.add_to_window("w", 101, 60) == WindowCounts(previous=3, current=1)
        assert await windows.add_to_window("w", 101, 60) == WindowCounts(previous=3, current=2)
        assert await windows.add_to_window("w", 103, 60) == WindowCounts(previous=0, current=1), (
            "a window further back counts 0"
        )
        assert await windows.add_to_window("other", 103, 60) == WindowCounts(previous=0, current=1)

    @pytest.mark.asyncio
    async def test_a_late_window_is_counted_in_the_current_one(self, storage: Storage) -> None:
        windows = storage.rate_limits
        await windows.add_to_window("late", 200, 60)
        await windows.add_to_window("late", 201, 60)
        assert await windows.add_to_window("late", 200, 60) == WindowCounts(previous=1, current=2)

    @pytest.mark.asyncio
    async def test_takes_back_only_from_the_current_window(self, storage: Storage) -> None:
        windows = storage.rate_limits
        await windows.add_to_window("t", 300, 60, 2)
        assert await windows.take_from_window("t", 300) == 1
        assert await windows.take_from_window("t", 300, 5) == 0, "never below 0"
        await windows.add_to_window("t", 301, 60, 3)
        assert await windows.take_from_window("t", 300) == 3, "the window moved on: nothing changes"
        assert await windows.take_from_window("absent", 300) == 0

    @pytest.mark.asyncio
    async def test_concurrent_adds_from_two_handles_are_all_counted(
        self, storage: Storage, other_storage: Storage
    ) -> None:
        counts = await asyncio.gather(
            *(
                (storage if number % 2 else other_storage).rate_limits.add_to_window("burst", 400, 60)
                for number in range(20)
            )
        )
        assert sorted(count.current for count in counts) == list(range(1, 21))
        rotated = await asyncio.gather(
            *(
                (storage if number % 2 else other_storage).rate_limits.add_to_window("burst", 401, 60)
                for number in range(10)
            )
        )
        assert {count.previous for count in rotated} == {20}, "one rotation, seen by every request"
        assert sorted(count.current for count in rotated) == list(range(1, 11))
