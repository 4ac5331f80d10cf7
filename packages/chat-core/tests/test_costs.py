from datetime import UTC, date, datetime

import pytest

from chat_core.costs import (
    CostRecord,
    PricingSnapshot,
    TokenUsage,
    cache_savings,
    compute_cost,
    period_bounds,
    period_of,
)
from chat_core.errors import InvalidInputError
from chat_core.ids import SessionId, UserId

PRICES = PricingSnapshot(
    input_price_per_mtok=3.0,
    output_price_per_mtok=15.0,
    cache_write_price_per_mtok=3.75,
    cache_read_price_per_mtok=0.3,
)


class TestComputeCost:
    def test_each_kind_is_tokens_over_a_million_times_price(self) -> None:
        usage = TokenUsage(
            input_tokens=1_000,
            output_tokens=500,
            total_tokens=1_500,
            cache_write_input_tokens=2_000,
            cache_read_input_tokens=10_000,
        )
        cost = compute_cost(usage, PRICES)
        assert cost.input_cost == pytest.approx(0.003)
        assert cost.output_cost == pytest.approx(0.0075)
        assert cost.cache_write_cost == pytest.approx(0.0075)
        assert cost.cache_read_cost == pytest.approx(0.003)
        assert cost.total_cost == pytest.approx(0.021)

    def test_is_exact_for_decimal_prices(self) -> None:
        usage = TokenUsage(input_tokens=1, output_tokens=0)
        cost = compute_cost(usage, PricingSnapshot(input_price_per_mtok=0.1, output_price_per_mtok=0))
        assert cost.input_cost == 1e-7

    def test_cache_tokens_without_cache_price_cost_nothing(self) -> None:
        prices = PricingSnapshot(input_price_per_mtok=1, output_price_per_mtok=2)
        cost = compute_cost(TokenUsage(cache_read_input_tokens=1_000_000, cache_write_input_tokens=5), prices)
        assert cost.total_cost == 0

    def test_zero_usage_costs_zero(self) -> None:
        assert compute_cost(TokenUsage(), PRICES).total_cost == 0


class TestCacheSavings:
    def test_savings_are_input_minus_cache_read_price(self) -> None:
        assert cache_savings(TokenUsage(cache_read_input_tokens=1_000_000), PRICES) == pytest.approx(2.7)

    def test_no_cache_reads_no_savings(self) -> None:
        assert cache_savings(TokenUsage(input_tokens=10), PRICES) == 0

    def test_never_negative(self) -> None:
        odd = PricingSnapshot(input_price_per_mtok=1, output_price_per_mtok=1, cache_read_price_per_mtok=2)
        assert cache_savings(TokenUsage(cache_read_input_tokens=10), odd) == 0


class TestUsageAddition:
    def test_adds_every_field(self) -> None:
        total = TokenUsage(
            input_tokens=1, output_tokens=2, total_tokens=3, cache_read_input_tokens=4
        ) + TokenUsage(input_tokens=10, output_tokens=20, total_tokens=30, cache_write_input_tokens=5)
        assert total == TokenUsage(
            input_tokens=11,
            output_tokens=22,
            total_tokens=33,
            cache_read_input_tokens=4,
            cache_write_input_tokens=5,
        )

    def test_absent_cache_counts_stay_absent(self) -> None:
        assert (TokenUsage() + TokenUsage()).cache_read_input_tokens is None


class TestPeriods:
    def test_period_of_uses_utc(self) -> None:
        assert period_of(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == "2026-01"

    @pytest.mark.parametrize(
        ("period", "end"),
        [("2026-02", date(2026, 2, 28)), ("2028-02", date(2028, 2, 29)), ("2026-04", date(2026, 4, 30))],
    )
    def test_bounds_end_on_the_real_last_day(self, period: str, end: date) -> None:
        start, last = period_bounds(period)
        assert start.day == 1
        assert last == end

    @pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-01", "2026/01", "", "0000-01"])
    def test_bad_periods(self, period: str) -> None:
        with pytest.raises(InvalidInputError) as caught:
            period_bounds(period)
        assert caught.value.field == "period"


def test_cost_record_for_turn_prices_the_usage() -> None:
    record = CostRecord.for_turn(
        user_id=UserId("u1"),
        session_id=SessionId("s1"),
        message_id="msg-s1-1",
        model_id="m",
        model_name="M",
        provider="bedrock",
        usage=TokenUsage(input_tokens=1_000_000, output_tokens=0, cache_read_input_tokens=1_000_000),
        pricing=PRICES,
    )
    assert record.cost.total_cost == pytest.approx(3.3)
    assert record.cache_savings == pytest.approx(2.7)
