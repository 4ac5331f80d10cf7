from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId
from chat_storage import Storage

ALICE = UserId("alice")
BOB = UserId("bob")
PRICING = PricingSnapshot(
    input_price_per_mtok=3.0,
    output_price_per_mtok=15.0,
    cache_write_price_per_mtok=3.75,
    cache_read_price_per_mtok=0.3,
)


def make_record(
    number: int,
    *,
    user_id: UserId = ALICE,
    model_id: str = "model-a",
    at: datetime = datetime(2025, 2, 10, tzinfo=UTC),
    input_tokens: int = 1_000,
    output_tokens: int = 200,
) -> CostRecord:
    return CostRecord.for_turn(
        user_id=user_id,
        session_id=SessionId("s-1"),
        message_id=f"msg-s-1-{number}",
        model_id=model_id,
        model_name=model_id.upper(),
        provider="bedrock",
        usage=TokenUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            cache_read_input_tokens=500,
            cache_write_input_tokens=100,
        ),
        pricing=PRICING,
        timestamp=at,
    )


class TestRecord:
    @pytest.mark.asyncio
    async def test_adds_the_turn_to_the_month(self, storage: Storage) -> None:
        record = make_record(1)
        assert await storage.costs.record(record) is True
        summary = await storage.costs.summary(ALICE, "2025-02")
        assert (summary.period_start, summary.period_end) == (date(2025, 2, 1), date(2025, 2, 28))
        assert summary.total_cost == pytest.approx(record.cost.total_cost, abs=1e-9)
        assert summary.total_requests == 1
        assert (summary.total_input_tokens, summary.total_output_tokens) == (1_000, 200)
        assert (summary.total_cache_read_tokens, summary.total_cache_write_tokens) == (500, 100)
        assert summary.total_cache_savings == pytest.approx(record.cache_savings, abs=1e-9)
        [model] = summary.models
        assert (model.model_id, model.model_name, model.request_count) == ("model-a", "MODEL-A", 1)
        assert model.cost_breakdown.output_cost == pytest.approx(record.cost.output_cost, abs=1e-9)

    @pytest.mark.asyncio
    async def test_the_same_message_counts_once(self, storage: Storage) -> None:
        assert await storage.costs.record(make_record(1)) is True
        assert await storage.costs.record(make_record(1, input_tokens=9_999)) is False
        summary = await storage.costs.summary(ALICE, "2025-02")
        assert (summary.total_requests, summary.total_input_tokens) == (1, 1_000)

    @pytest.mark.asyncio
    async def test_sums_per_model_and_in_total(self, storage: Storage) -> None:
        records = [make_record(1), make_record(2), make_record(3, model_id="model-b", output_tokens=1_000)]
        for record in records:
            await storage.costs.record(record)
        summary = await storage.costs.summary(ALICE, "2025-02")
        assert summary.total_requests == 3
        assert summary.total_cost == pytest.approx(sum(r.cost.total_cost for r in records), abs=1e-9)
        by_model = {model.model_id: model for model in summary.models}
        assert by_model["model-a"].request_count == 2
        assert by_model["model-a"].total_input_tokens == 2_000
        assert by_model["model-b"].total_output_tokens == 1_000
        assert by_model["model-b"].cost_breakdown.total_cost == pytest.approx(
            records[2].cost.total_cost, abs=1e-9
        )


class TestSummary:
    @pytest.mark.asyncio
    async def test_months_and_users_are_separate(self, storage: Storage) -> None:
        await storage.costs.record(make_record(1, at=datetime(2025, 1, 31, 23, 59, tzinfo=UTC)))
        await storage.costs.record(make_record(2, at=datetime(2025, 2, 1, 0, 0, tzinfo=UTC)))
        await storage.costs.record(make_record(3, user_id=BOB))
        assert (await storage.costs.summary(ALICE, "2025-01")).total_requests == 1
        assert (await storage.costs.summary(ALICE, "2025-02")).total_requests == 1
        assert (await storage.costs.summary(BOB, "2025-02")).total_requests == 1

    @pytest.mark.asyncio
    async def test_a_month_without_spend_is_zero(self, storage: Storage) -> None:
        summary = await storage.costs.summary(ALICE, "2024-02")
        assert (summary.period_start, summary.period_end) == (date(2024, 2, 1), date(2024, 2, 29))
        assert (summary.total_cost, summary.total_requests, summary.models) == (0.0, 0, [])

    @pytest.mark.asyncio
    async def test_a_malformed_period_is_invalid(self, storage: Storage) -> None:
        for period in ["2025-13", "2025-1", "25-01", "2025-01-01", ""]:
            with pytest.raises(InvalidInputError):
                await storage.costs.summary(ALICE, period)


class TestReport:
    @pytest.mark.asyncio
    async def test_sums_the_records_of_the_days_in_range(self, storage: Storage) -> None:
        first_day = make_record(1, at=datetime(2025, 3, 1, 0, 0, tzinfo=UTC))
        last_moment = make_record(
            2,
            model_id="model-b",
            output_tokens=5_000,
            at=datetime(2025, 3, 10, 23, 59, 59, 999_999, tzinfo=UTC),
        )
        middle = make_record(3, at=datetime(2025, 3, 5, 12, 0, tzinfo=UTC))
        before = make_record(4, at=datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))
        after = make_record(5, at=datetime(2025, 3, 11, 0, 0, tzinfo=UTC))
        for record in (first_day, last_moment, middle, before, after, make_record(6, user_id=BOB)):
            await storage.costs.record(record)
        report = await storage.costs.report(ALICE, date(2025, 3, 1), date(2025, 3, 10))
        inside = [first_day, last_moment, middle]
        assert (report.user_id, report.period_start, report.period_end) == (
            ALICE,
            date(2025, 3, 1),
            date(2025, 3, 10),
        )
        assert report.total_requests == 3
        assert report.total_cost == pytest.approx(sum(r.cost.total_cost for r in inside), abs=1e-9)
        assert report.total_output_tokens == 200 + 5_000 + 200
        assert report.total_cache_savings == pytest.approx(sum(r.cache_savings for r in inside), abs=1e-9)
        assert [model.model_id for model in report.models] == ["model-b", "model-a"]  # by cost
        assert report.models[1].request_count == 2

    @pytest.mark.asyncio
    async def test_a_range_without_spend_is_zero(self, storage: Storage) -> None:
        await storage.costs.record(make_record(1, at=datetime(2025, 3, 1, tzinfo=UTC)))
        report = await storage.costs.report(ALICE, date(2025, 4, 1), date(2025, 4, 30))
        assert (report.total_cost, report.total_requests, report.models) == (0.0, 0, [])

    @pytest.mark.asyncio
    async def test_one_day_and_another_user(self, storage: Storage) -> None:
        await storage.costs.record(make_record(1, user_id=BOB, at=datetime(2025, 3, 1, 8, tzinfo=UTC)))
        assert (await storage.costs.report(ALICE, date(2025, 3, 1), date(2025, 3, 1))).total_requests == 0
        assert (await storage.costs.report(BOB, date(2025, 3, 1), date(2025, 3, 1))).total_requests == 1
