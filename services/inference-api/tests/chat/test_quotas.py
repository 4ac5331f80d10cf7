"""Spend quotas before the model is called, over real HTTP, on SQLite and on DynamoDB (moto).

Prices are chosen so that a turn of the scripted model (10 input, 5 output tokens) costs exactly what
it reserves: input is free and the output budget is its 5 tokens, at $15 per million.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aioboto3
import pytest
import pytest_asyncio
import time_machine
from inference_testing import (
    SCRIPTED_MODEL_ID,
    ScriptedModels,
    Service,
    TurnResult,
    managed_model,
    post_turn,
    serve_app,
    storage_for,
    text_cycle,
    validate_events,
)
from prometheus_client.parser import text_string_to_metric_families

from chat_core.costs import CostRecord, PricingSnapshot, TokenUsage
from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ModelProvider
from chat_core.quotas import AssignmentType, QuotaAssignment, QuotaEventType, QuotaTier, next_day, next_month
from chat_storage import AwsStorageConfig, Storage
from chat_storage.aws import ResourceNames, provision
from chat_storage.aws.testing import start_moto_server
from chat_storage.local import DATABASE_FILE
from inference_api.config import Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]
ALICE = UserId("alice")
TURN_COST = 5 * 15.0 / 1_000_000
"""What one scripted turn costs (and reserves)."""


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = start_moto_server()
    yield server.endpoint
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("aws", marks=pytest.mark.aws)])
def backend_settings(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    tuned = settings.model_copy(
        update={"quota_reserve_output_tokens": 5, "quota_cache_seconds": 0, "rate_limits_enabled": False}
    )
    if request.param == "sqlite":
        return tuned
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = request.getfixturevalue("moto_endpoint")
    return tuned.model_copy(
        update={
            "storage": "aws",
            "aws_endpoint_url": endpoint,
            "resource_prefix": f"q{uuid.uuid4().hex[:10]}",
        }
    )


async def _service(settings: Settings, scripted: ScriptedModels) -> AsyncIterator[Service]:
    if settings.storage == "aws":
        await provision(settings.storage_config(""))  # type: ignore[arg-type]
    async with storage_for(settings) as storage:
        await storage.managed_models.create(
            managed_model(
                SCRIPTED_MODEL_ID, provider=ModelProvider.BEDROCK, input_price=0.0, output_price=15.0
            )
        )
        with serve_app(create_app(settings, model_factory=scripted)) as url:
            yield Service(url, settings, scripted, storage)


@pytest_asyncio.fixture
async def quota_service(backend_settings: Settings) -> AsyncIterator[Service]:
    async for service in _service(backend_settings, ScriptedModels()):
        yield service


async def make_tier(storage: Storage, **fields: object) -> QuotaTier:
    tier = QuotaTier.model_validate(
        {"tier_id": "basic", "tier_name": "Basic", "monthly_cost_limit": 10 * TURN_COST} | fields
    )
    await storage.quotas.put_tier(tier)
    await storage.quotas.put_assignment(
        QuotaAssignment(
            assignment_id="everyone", tier_id=tier.tier_id, assignment_type=AssignmentType.DEFAULT_TIER
        )
    )
    return tier


async def spend(storage: Storage, dollars: float, *, at: datetime | None = None, number: int = 0) -> None:
    """Record earlier spending of Alice (as a stored turn would)."""
    await storage.costs.record(
        CostRecord.for_turn(
            user_id=ALICE,
            session_id=SessionId("earlier"),
            message_id=f"msg-earlier-{number}",
            model_id="m",
            model_name="M",
            provider="bedrock",
            usage=TokenUsage(input_tokens=1, total_tokens=1),
            pricing=PricingSnapshot(input_price_per_mtok=dollars * 1_000_000, output_price_per_mtok=0.0),
            timestamp=at or datetime.now(UTC),
        )
    )


async def turn(service: Service, auth: Headers, session: str = "s-1") -> TurnResult:
    async with service.client() as client:
        return await post_turn(
            client, auth("alice"), session_id=session, message="hi", model_id=SCRIPTED_MODEL_ID
        )


class TestUnlimited:
    @pytest.mark.asyncio
    async def test_without_a_limit_no_usage_is_read_nor_reserved_and_the_cost_still_counts(
        self, quota_service: Service, auth: Headers
    ) -> None:
        for number in range(2):
            result = await turn(quota_service, auth, f"u-{number}")
            assert result.status == 200, result.error
        async with quota_service.client() as client:
            scraped = (await client.get("/metrics")).text
        usage_calls = {
            sample.labels["operation"]: sample.value
            for family in text_string_to_metric_families(scraped)
            if family.name == "chat_storage_operation_duration_seconds"
            for sample in family.samples
            if sample.name == "chat_storage_operation_duration_seconds_count"
            and sample.labels["repository"] == "usage"
            and sample.value
        }
        assert usage_calls == {}, "nothing to decide: the usage is neither read nor reserved"
        counted = await quota_service.storage.usage.usage(ALICE, at=datetime.now(UTC))
        assert counted.monthly.spent == pytest.approx(2 * TURN_COST)
        assert counted.monthly.reserved == 0


class TestBlock:
    @pytest.mark.asyncio
    async def test_over_the_monthly_limit_is_429_with_limit_usage_and_reset(
        self, quota_service: Service, auth: Headers
    ) -> None:
        await make_tier(quota_service.storage)
        await spend(quota_service.storage, 10 * TURN_COST)
        result = await turn(quota_service, auth)
        assert result.status == 429
        error = result.error
        assert error["code"] == "quota_exceeded"
        assert error["detail"]["quotaLimit"] == pytest.approx(10 * TURN_COST)
        assert error["detail"]["currentUsage"] == pytest.approx(10 * TURN_COST)
        assert error["detail"]["periodType"] == "monthly"
        reset = datetime.fromisoformat(error["detail"]["resetAt"])
        assert reset == next_month(datetime.now(UTC))
        retry_after = int(result.headers["Retry-After"])
        assert abs(retry_after - (reset - datetime.now(UTC)).total_seconds()) < 60
        assert [model.calls for model in quota_service.scripted.models] == [[]], "the model was never called"
        (event,) = await quota_service.storage.quotas.list_events(user_id=ALICE)
        assert (event.event_type, event.tier_id) == (QuotaEventType.BLOCK, "basic")
        async with quota_service.client() as client:
            scraped = (await client.get("/metrics")).text
        blocks = {
            sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(scraped)
            if family.name == "chat_quota_blocks"
            for sample in family.samples
            if sample.name == "chat_quota_blocks_total"
        }
        assert blocks == {"monthly_limit": 1.0}

    @pytest.mark.asyncio
    async def test_a_client_accepting_an_event_stream_gets_the_refusal_streamed(
        self, quota_service: Service, auth: Headers
    ) -> None:
        await make_tier(quota_service.storage)
        await spend(quota_service.storage, 10 * TURN_COST)
        async with quota_service.client() as client:
            result = await post_turn(
                client,
                auth("alice") | {"Accept": "text/event-stream"},
                session_id="s-refused",
                message="hi",
                model_id=SCRIPTED_MODEL_ID,
            )
        assert result.status == 200
        validate_events(result.events)
        assert result.names()[-2:] == ["quota_exceeded", "done"]
        assert result.of("message_stop") == [{"stopReason": "quota_exceeded"}]
        (exceeded,) = result.of("quota_exceeded")
        assert exceeded["quotaLimit"] == pytest.approx(10 * TURN_COST)
        assert exceeded["periodType"] == "monthly"
        assert result.text() == exceeded["message"]
        assert "usage limit" in exceeded["message"]
        assert [model.calls for model in quota_service.scripted.models] == [[]], "the model was never called"
        assert await quota_service.storage.sessions.get(ALICE, SessionId("s-refused")) is None, (
            "nothing stored"
        )
        (event,) = await quota_service.storage.quotas.list_events(user_id=ALICE)
        assert event.event_type is QuotaEventType.BLOCK

    @pytest.mark.asyncio
    async def test_the_daily_limit_blocks_until_midnight(self, quota_service: Service, auth: Headers) -> None:
        await make_tier(quota_service.storage, daily_cost_limit=2 * TURN_COST, period_type="daily")
        await spend(quota_service.storage, 2 * TURN_COST)
        result = await turn(quota_service, auth)
        assert result.status == 429
        assert result.error["detail"]["periodType"] == "daily"
        assert datetime.fromisoformat(result.error["detail"]["resetAt"]) == next_day(datetime.now(UTC))

    @pytest.mark.asyncio
    async def test_yesterdays_spend_does_not_count_against_today(
        self, quota_service: Service, auth: Headers
    ) -> None:
        with time_machine.travel(datetime(2027, 3, 15, 12, 0, tzinfo=UTC), tick=True):  # mid-month, any day
            await make_tier(quota_service.storage, daily_cost_limit=2 * TURN_COST, period_type="daily")
            await spend(quota_service.storage, 2 * TURN_COST, at=datetime.now(UTC) - timedelta(days=1))
            assert (await turn(quota_service, auth)).status == 200
            usage = await quota_service.storage.usage.usage(ALICE, at=datetime.now(UTC))
            assert usage.daily.spent == pytest.approx(TURN_COST, abs=1e-12)

    @pytest.mark.asyncio
    async def test_blocked_at_the_end_of_a_month_spends_again_on_the_first(
        self, backend_settings: Settings, auth: Headers
    ) -> None:
        """The month is the UTC calendar month: 30 s before midnight the block says it lifts at midnight
        (`Retry-After` 30), and 30 s after it the same user's turn runs and counts in the new month.
        Time moves for the whole process (service threads and the moto server included)."""
        last_minute = datetime(2027, 1, 31, 23, 59, 30, tzinfo=UTC)
        first_of_february = datetime(2027, 2, 1, tzinfo=UTC)
        with time_machine.travel(last_minute, tick=False) as clock:
            async for service in _service(backend_settings, ScriptedModels()):
                await make_tier(service.storage)
                await spend(service.storage, 10 * TURN_COST)
                blocked = await turn(service, auth, "end-of-january")
                assert blocked.status == 429
                assert datetime.fromisoformat(blocked.error["detail"]["resetAt"]) == first_of_february
                assert int(blocked.headers["Retry-After"]) == 30
                clock.move_to(first_of_february + timedelta(seconds=30))
                allowed = await turn(service, auth, "first-of-february")
                assert allowed.status == 200, allowed.error
                january = await service.storage.usage.usage(ALICE, at=last_minute)
                february = await service.storage.usage.usage(ALICE, at=datetime.now(UTC))
                assert (january.month, january.monthly.spent) == ("2027-01", pytest.approx(10 * TURN_COST))
                assert (february.month, february.monthly.spent) == ("2027-02", pytest.approx(TURN_COST))
                events = await service.storage.quotas.list_events(user_id=ALICE)
                assert [event.event_type for event in events] == [QuotaEventType.BLOCK]

    @pytest.mark.asyncio
    async def test_an_override_lifts_the_block_until_it_expires(
        self, quota_service: Service, auth: Headers
    ) -> None:
        from chat_core.quotas import OverrideType, QuotaOverride

        await make_tier(quota_service.storage)
        await spend(quota_service.storage, 10 * TURN_COST)
        now = datetime.now(UTC)
        override = QuotaOverride(
            override_id="o-1",
            user_id="alice",
            override_type=OverrideType.CUSTOM_LIMIT,
            monthly_cost_limit=100 * TURN_COST,
            valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(hours=1),
            reason="deadline",
        )
        await quota_service.storage.quotas.put_override(override)
        assert (await turn(quota_service, auth)).status == 200
        await quota_service.storage.quotas.put_override(override.model_copy(update={"valid_until": now}))
        assert (await turn(quota_service, auth, "s-2")).status == 429


class TestWarnings:
    @pytest.mark.asyncio
    async def test_the_soft_limit_warns_first_then_the_turn_runs(
        self, quota_service: Service, auth: Headers
    ) -> None:
        await make_tier(quota_service.storage, monthly_cost_limit=20 * TURN_COST)
        await spend(quota_service.storage, 16.5 * TURN_COST)
        result = await turn(quota_service, auth)
        assert result.status == 200
        names = result.names()
        assert names[0] == "quota_warning"
        validate_events(result.events)
        warning = result.of("quota_warning")[0]
        assert (warning["warningLevel"], warning["remaining"]) == (
            "80%",
            pytest.approx(3.5 * TURN_COST, abs=1e-9),
        )
        await turn(quota_service, auth, "s-2")
        events = await quota_service.storage.quotas.list_events(
            user_id=ALICE, event_type=QuotaEventType.WARNING
        )
        assert len(events) == 1, "one warning event per period and level"

    @pytest.mark.asyncio
    async def test_warn_lets_the_turn_through_over_the_limit(
        self, quota_service: Service, auth: Headers
    ) -> None:
        await make_tier(quota_service.storage, action_on_limit="warn")
        await spend(quota_service.storage, 12 * TURN_COST)
        result = await turn(quota_service, auth)
        assert result.status == 200
        assert result.of("quota_warning")[0]["warningLevel"] == "90%"
        assert result.names()[-1] == "done"
        usage = await quota_service.storage.usage.usage(ALICE, at=datetime.now(UTC))
        assert usage.monthly.spent == pytest.approx(13 * TURN_COST, abs=1e-9)


class TestConcurrency:
    @pytest.mark.asyncio
    async def test_20_concurrent_turns_spend_at_most_the_budget(
        self, backend_settings: Settings, auth: Headers
    ) -> None:
        scripted = ScriptedModels(script=lambda: [text_cycle("Counted once.", pause=0.3)])
        async for service in _service(backend_settings, scripted):
            await make_tier(service.storage, monthly_cost_limit=15 * TURN_COST)
            await spend(service.storage, 10 * TURN_COST)  # what remains covers 5 turns
            async with service.client() as client:
                results = await asyncio.gather(
                    *(
                        post_turn(
                            client,
                            auth("alice"),
                            session_id=f"c-{n}",
                            message="hi",
                            model_id=SCRIPTED_MODEL_ID,
                        )
                        for n in range(20)
                    )
                )
            statuses = sorted(result.status for result in results)
            assert statuses == [200] * 5 + [429] * 15
            usage = await service.storage.usage.usage(ALICE, at=datetime.now(UTC))
            assert usage.monthly.spent == pytest.approx(15 * TURN_COST, abs=1e-9)
            assert usage.monthly.reserved == pytest.approx(0.0, abs=1e-12)


class TestStoreOutage:
    @pytest.mark.parametrize(("policy", "expected"), [("refuse", 503), ("warn", 200)])
    @pytest.mark.asyncio
    async def test_refuses_with_503_unless_configured_to_warn(
        self, settings: Settings, auth: Headers, tmp_path: Path, policy: str, expected: int
    ) -> None:
        configured = settings.model_copy(
            update={
                "data_dir": tmp_path / f"data-{policy}",
                "sqlite_busy_timeout_ms": 200,
                "rate_limits_enabled": False,
                "quota_cache_seconds": 0,
                "quota_store_outage": policy,
            }
        )
        scripted = ScriptedModels(script=lambda: [text_cycle("Unchecked.", pause=0.3)])
        async for service in _service(configured, scripted):
            await make_tier(service.storage)
            assert (await turn(service, auth, "warm-up")).status == 200
            blocker = sqlite3.connect(configured.data_dir / DATABASE_FILE, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database: reservations fail
            try:
                async with (
                    service.client() as client,
                    client.stream(
                        "POST",
                        "/invocations",
                        json={"session_id": "warm-up", "message": "hi", "model_id": SCRIPTED_MODEL_ID},
                        headers=auth("alice"),
                    ) as response,
                ):
                    blocker.execute("ROLLBACK")  # the turn itself may then be stored
                    await response.aread()
                    assert response.status_code == expected, response.text
                    if expected == 503:
                        assert response.json()["error"]["code"] == "service_unavailable"
                        assert "Retry-After" in response.headers
                        assert [model.calls for model in scripted.models[1:]] == [[]], (
                            "the model was not called"
                        )
            finally:
                if blocker.in_transaction:
                    blocker.execute("ROLLBACK")
                blocker.close()

    @pytest.mark.aws
    @pytest.mark.parametrize("backend_settings", ["aws"], indirect=True)
    @pytest.mark.parametrize(("policy", "expected"), [("refuse", 503), ("warn", 200)])
    @pytest.mark.asyncio
    async def test_on_aws_refuses_with_503_unless_configured_to_warn(
        self, backend_settings: Settings, auth: Headers, policy: str, expected: int
    ) -> None:
        """The quota store's DynamoDB table gone mid-test (as while it is being restored), every other
        table answering: only the quota decision fails. Stopping the whole server would not show that:
        the session and history reads come first and would be the 503."""
        configured = backend_settings.model_copy(update={"quota_store_outage": policy, "aws_max_attempts": 1})
        scripted = ScriptedModels()
        async for service in _service(configured, scripted):
            await make_tier(service.storage)
            assert (await turn(service, auth, "warm-up")).status == 200
            config = configured.storage_config("")
            assert isinstance(config, AwsStorageConfig)
            async with aioboto3.Session().client(
                "dynamodb", endpoint_url=config.endpoint_url, region_name=config.region
            ) as dynamodb:
                await dynamodb.delete_table(TableName=ResourceNames(config.resource_prefix).usage)
            result = await turn(service, auth, "warm-up")
            assert result.status == expected, result.error
            if expected == 503:
                assert result.error["code"] == "service_unavailable"
                assert "Retry-After" in result.headers
                assert [model.calls for model in scripted.models[1:]] == [[]], "the model was not called"
            else:
                assert len(scripted.models[1].calls) == 1, "the turn ran, unchecked"


class TestRateLimit:
    @pytest.mark.asyncio
    async def test_too_many_turns_is_429_with_ratelimit_headers(
        self, settings: Settings, auth: Headers
    ) -> None:
        limited = settings.model_copy(update={"rate_limit_turns": "2/minute"})
        async for service in _service(limited, ScriptedModels()):
            wait_clear_of_a_window_boundary()
            results = [await turn(service, auth, f"r-{n}") for n in range(3)]
            assert [result.status for result in results] == [200, 200, 429]
            first = results[0].headers  # a streamed turn carries the fields too
            assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("2", "1")
            assert 0 < int(first["RateLimit-Reset"]) <= 60
            async with service.client() as client:
                response = await client.post(
                    "/invocations", json={"session_id": "r-9", "message": "hi"}, headers=auth("alice")
                )
            assert response.json()["error"]["code"] == "rate_limit_exceeded"
            assert response.headers["RateLimit-Limit"] == "2"
            assert response.headers["RateLimit-Remaining"] == "0"
            assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
            assert 0 < int(response.headers["Retry-After"]) <= 60
            bob = await turn_as(service, auth("bob"))
            assert bob == 200, "each user has a limit of their own"
            async with service.client() as client:
                scraped = (await client.get("/metrics")).text
            refusals = [
                (sample.labels["limit"], sample.value)
                for family in text_string_to_metric_families(scraped)
                if family.name == "chat_rate_limit_refusals"
                for sample in family.samples
                if sample.name == "chat_rate_limit_refusals_total"
            ]
            assert refusals == [("turn", 2.0)]

    @pytest.mark.asyncio
    async def test_two_replicas_share_one_limit(self, backend_settings: Settings, auth: Headers) -> None:
        """Two services on one storage (SQLite file or DynamoDB): the turns a user makes on either count
        against one limit, and each replica refuses once it is spent, with the RateLimit headers."""
        limited = backend_settings.model_copy(
            update={"rate_limits_enabled": True, "rate_limit_turns": "2/minute"}
        )
        async for first in _service(limited, ScriptedModels()):
            scripted = ScriptedModels()
            with serve_app(create_app(limited, model_factory=scripted)) as other_url:
                other = Service(other_url, limited, scripted, first.storage)
                wait_clear_of_a_window_boundary()
                results = [
                    await turn(replica, auth, f"r-{n}")
                    for n, replica in enumerate((first, other, first, other))
                ]
        assert [result.status for result in results] == [200, 200, 429, 429]
        for refused in results[2:]:
            assert refused.error["code"] == "rate_limit_exceeded"
            assert refused.headers["RateLimit-Limit"] == "2"
            assert refused.headers["RateLimit-Remaining"] == "0"
            assert 0 < int(refused.headers["Retry-After"]) <= 60


async def turn_as(service: Service, headers: dict[str, str]) -> int:
    async with service.client() as client:
        response = await client.post(
            "/invocations",
            json={"session_id": "b-1", "message": "hi", "model_id": SCRIPTED_MODEL_ID},
            headers=headers,
        )
    return response.status_code


def wait_clear_of_a_window_boundary(window: float = 60.0, margin: float = 10.0) -> None:
    """Sleep past the next window start when it is near: counts across it are approximate."""
    into = time.time() % window
    if into > window - margin:
        time.sleep(window - into + 0.05)
