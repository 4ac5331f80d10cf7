"""`GET /costs/summary` (the caller's month, by model) and `GET /users/search` (the share picker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_storage import open_storage

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def record_turns(
    live: Any, user_id: str, turns: list[tuple[str, str, int, int]], *, at: datetime | None = None
) -> None:
    """Bill turns (message id, model id, input tokens, output tokens) as inference-api would."""

    async def write() -> None:
        async with open_storage(live.storage_config()) as storage:
            for message_id, model_id, tokens_in, tokens_out in turns:
                await storage.costs.record(
                    CostRecord.for_turn(
                        user_id=UserId(user_id),
                        session_id=SessionId("s-1"),
                        message_id=message_id,
                        model_id=model_id,
                        model_name=model_id.upper(),
                        provider="bedrock",
                        usage=TokenUsage(
                            input_tokens=tokens_in,
                            output_tokens=tokens_out,
                            total_tokens=tokens_in + tokens_out,
                        ),
                        pricing=PricingSnapshot(input_price_per_mtok=1.0, output_price_per_mtok=5.0),
                        timestamp=at or datetime(2026, 3, 15, tzinfo=UTC),
                    )
                )

    asyncio.run(write())


class TestCostSummary:
    def test_the_month_by_model(self, api: Api, live: Any) -> None:
        alice, bob = api("alice"), api("bob")
        record_turns(
            live,
            alice.user_id,
            [("m1", "haiku", 1000, 100), ("m2", "haiku", 2000, 200), ("m3", "sonnet", 1_000_000, 0)],
        )
        record_turns(live, bob.user_id, [("m4", "haiku", 5, 5)])
        summary = alice.get("/costs/summary", params={"period": "2026-03"}).json()
        assert (summary["periodStart"], summary["periodEnd"]) == ("2026-03-01", "2026-03-31")
        assert summary["totalRequests"] == 3
        assert summary["totalCost"] == 1.0045
        by_model = {item["modelId"]: item for item in summary["models"]}
        assert by_model["haiku"]["requestCount"] == 2
        assert by_model["haiku"]["totalInputTokens"] == 3000
        assert by_model["sonnet"]["costBreakdown"]["inputCost"] == 1.0
        assert "userId" in summary

    def test_an_empty_month_is_zero_not_an_error(self, api: Api) -> None:
        summary = api().get("/costs/summary", params={"period": "2025-02"}).json()
        assert (summary["totalCost"], summary["models"], summary["periodEnd"]) == (0.0, [], "2025-02-28")

    def test_the_default_is_this_month(self, api: Api) -> None:
        summary = api().get("/costs/summary").json()
        assert summary["periodStart"] == datetime.now(UTC).strftime("%Y-%m-01")

    def test_a_bad_period_is_422(self, api: Api, check_error: CheckError) -> None:
        for period in ("2026-13", "2026-3", "march", "0000-01"):
            check_error(api().get("/costs/summary", params={"period": period}), 422, "validation_error")


class TestDetailedReport:
    def test_the_days_in_range_by_model(self, api: Api, live: Any) -> None:
        alice = api("alice")
        record_turns(live, alice.user_id, [("m1", "haiku", 1000, 100)], at=datetime(2026, 3, 1, tzinfo=UTC))
        record_turns(
            live, alice.user_id, [("m2", "haiku", 2000, 200)], at=datetime(2026, 3, 30, 23, tzinfo=UTC)
        )
        record_turns(live, alice.user_id, [("m3", "haiku", 9000, 900)], at=datetime(2026, 3, 31, tzinfo=UTC))
        report = alice.get(
            "/costs/detailed-report", params={"start_date": "2026-03-01", "end_date": "2026-03-30"}
        )
        assert report.status_code == 200, report.text
        body = report.json()
        assert (body["periodStart"], body["periodEnd"], body["totalRequests"]) == (
            "2026-03-01",
            "2026-03-30",
            2,
        )
        assert body["totalCost"] == 0.0045
        assert [model["modelId"] for model in body["models"]] == ["haiku"]

    def test_ninety_days_at_most_and_in_order(self, api: Api, check_error: CheckError) -> None:
        alice = api("alice")
        ok = alice.get(
            "/costs/detailed-report", params={"start_date": "2026-01-01", "end_date": "2026-03-31"}
        )
        assert ok.status_code == 200
        for start, end in (("2026-01-01", "2026-04-01"), ("2026-03-02", "2026-03-01")):
            error = check_error(
                alice.get("/costs/detailed-report", params={"start_date": start, "end_date": end}),
                422,
                "validation_error",
            )
            assert error["field"] == "end_date"
        for params in ({"start_date": "2026-03-01"}, {"start_date": "march", "end_date": "2026-03-02"}):
            check_error(alice.get("/costs/detailed-report", params=params), 422, "validation_error")


class TestUserSearch:
    def test_people_are_found_by_email_or_name_prefix_once_they_signed_in(self, api: Api) -> None:
        carol, dave = api("carol"), api("dave")
        carol.get("/models")  # signs in: the profile is recorded on first sight
        dave.get("/models")
        by_email = dave.get("/users/search", params={"q": carol.email[:8].upper()}).json()["users"]
        assert {"userId": carol.user_id, "email": carol.email, "name": carol.name} in by_email
        by_name = carol.get("/users/search", params={"q": dave.name.lower()}).json()["users"]
        assert [user["userId"] for user in by_name] == [dave.user_id]

    def test_someone_who_never_signed_in_is_not_found(self, api: Api) -> None:
        ghost = api("ghost")
        assert api("erin").get("/users/search", params={"q": ghost.email}).json() == {"users": []}

    def test_query_and_limit_are_validated(self, api: Api, check_error: CheckError) -> None:
        erin = api("erin")
        check_error(erin.get("/users/search"), 422, "validation_error")
        check_error(erin.get("/users/search", params={"q": "a", "limit": 51}), 422, "validation_error")
        check_error(erin.get("/users/search", params={"q": "   "}), 422, "validation_error")

    def test_search_needs_a_token(self, live: Any, check_error: CheckError) -> None:
        check_error(httpx.get(f"{live.base_url}/users/search", params={"q": "a"}), 401, "unauthorized")
