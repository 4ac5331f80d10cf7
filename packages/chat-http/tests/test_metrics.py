"""Metrics, scraped over HTTP and parsed with prometheus-client's own parser: request metrics by route
template, storage operations by backend and operation, protection in production, a port of their own,
and the quota and rate-limit counters."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr
from starlette.requests import Request

from chat_core.errors import ConflictError
from chat_core.ids import SessionId, UserId
from chat_http.app import create_service_app
from chat_http.metrics import UNMATCHED_ROUTE, EdgeMetrics
from chat_http.settings import EdgeSettings, Environment
from chat_http.state import ServiceState, lifespan_state, open_edge_resources, service_state
from chat_http.telemetry import Telemetry, instrument_storage, telemetry_of

SECRET = "x" * 40
OIDC = {
    "oidc_issuer": "https://id.example",
    "oidc_audience": "chat",
    "oidc_jwks_url": "https://id.example/jwks",
}


def make_settings(tmp_path: Path, **values: Any) -> EdgeSettings:
    values.setdefault("dev_jwt_secret", SecretStr(SECRET))
    return EdgeSettings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def make_app(settings: EdgeSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ServiceState]]:
        async with AsyncExitStack() as stack:
            telemetry = telemetry_of(app)
            edge = await open_edge_resources(settings, stack, telemetry=telemetry)
            yield lifespan_state(
                ServiceState(
                    settings=settings,
                    storage=edge.storage,
                    verifier=edge.verifier,
                    knowledge=edge.knowledge,
                    telemetry=telemetry,
                )
            )

    app = create_service_app(settings, service="metrics-test", title="t", version="1", lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict[str, str]:
        return {"itemId": item_id}

    @app.get("/stored/{session_id}")
    async def read_stored(session_id: str, request: Request) -> dict[str, Any]:
        storage = service_state(request).storage
        found = await storage.sessions.get(UserId("alice"), SessionId(session_id))
        return {"found": found is not None}

    return app


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app) as state:

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "state": dict(state)}
            await app(scope, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://edge") as http:
            yield http


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def value(text: str, name: str, **labels: str) -> float:
    found = [
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


class TestRequestMetrics:
    @pytest.mark.asyncio
    async def test_requests_are_counted_by_route_template_method_and_status(self, tmp_path: Path) -> None:
        async with running(make_app(make_settings(tmp_path))) as client:
            for item in ("a", "b", "c"):
                assert (await client.get(f"/items/{item}")).status_code == 200
            assert (await client.get("/nowhere/user-123")).status_code == 404
            assert (await client.delete("/items/a")).status_code == 405
            scraped = await client.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        text = scraped.text
        count = "chat_http_request_duration_seconds_count"
        assert value(text, count, route="/items/{item_id}", method="GET", status="200") == 3
        assert value(text, count, route=UNMATCHED_ROUTE, method="GET", status="404") == 1
        assert value(text, count, route="/items/{item_id}", method="DELETE", status="405") == 1
        buckets = [
            s for s in samples(text) if s.name == "chat_http_request_duration_seconds_bucket"
            and s.labels["route"] == "/items/{item_id}" and s.labels["method"] == "GET"
        ]  # fmt: skip
        assert buckets[-1].labels["le"] == "+Inf"
        assert buckets[-1].value == 3
        routes = {s.labels.get("route") for s in samples(text) if "route" in s.labels}
        assert not any("user-123" in route or route.endswith("/a") for route in routes if route)

    @pytest.mark.asyncio
    async def test_every_family_is_exposed_with_its_help(self, tmp_path: Path) -> None:
        async with running(make_app(make_settings(tmp_path))) as client:
            text = (await client.get("/metrics")).text
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {
            "chat_http_request_duration_seconds",
            "chat_storage_operation_duration_seconds", "chat_storage_operation_errors",
            "chat_turns_started", "chat_turns_completed", "chat_turns_failed", "chat_turns_running",
            "chat_turn_time_to_first_token_seconds", "chat_turn_duration_seconds", "chat_turn_tokens",
            "chat_turn_cost_usd", "chat_ingestion_documents", "chat_ingestion_chunks",
            "chat_ingestion_queue_depth", "chat_ingestion_running", "chat_ingestion_duration_seconds",
            "chat_quota_blocks", "chat_rate_limit_refusals",
        } <= names  # fmt: skip


class TestStorageMetrics:
    @pytest.mark.asyncio
    async def test_storage_calls_are_timed_by_backend_repository_and_operation(self, tmp_path: Path) -> None:
        async with running(make_app(make_settings(tmp_path))) as client:
            assert (await client.get("/stored/s-1")).json() == {"found": False}
            assert (await client.get("/stored/s-2")).json() == {"found": False}
            text = (await client.get("/metrics")).text
        labels = {"backend": "sqlite", "repository": "sessions", "operation": "get"}
        assert value(text, "chat_storage_operation_duration_seconds_count", **labels) == 2

    @pytest.mark.asyncio
    async def test_errors_are_counted_by_code_and_still_raised(self, tmp_path: Path) -> None:
        class FakeSessionRepository:
            """The real repository, but `get` fails."""

            def __init__(self, real: object) -> None:
                self._real = real

            def __getattr__(self, name: str) -> Any:
                return getattr(self._real, name)

            async def get(self, user_id: str, session_id: str) -> None:
                raise ConflictError("changed meanwhile")

        metrics = EdgeMetrics()
        async with AsyncExitStack() as stack:
            edge = await open_edge_resources(make_settings(tmp_path), stack)
            broken = dataclasses.replace(edge.storage, sessions=FakeSessionRepository(edge.storage.sessions))  # type: ignore[arg-type]
            storage = instrument_storage(broken, Telemetry(metrics=metrics))
            with pytest.raises(ConflictError):
                await storage.sessions.get(UserId("alice"), SessionId("s-1"))
            await storage.ping()
        text = metrics.exposition().decode()
        assert value(
            text, "chat_storage_operation_errors_total",
            backend="sqlite", repository="sessions", operation="get", code="conflict",
        ) == 1  # fmt: skip
        assert (
            value(
                text, "chat_storage_operation_duration_seconds_count", repository="backend", operation="ping"
            )
            == 1
        )

    @pytest.mark.asyncio
    async def test_without_metrics_or_tracing_storage_is_left_as_it_is(self, tmp_path: Path) -> None:
        async with AsyncExitStack() as stack:
            edge = await open_edge_resources(make_settings(tmp_path), stack)
            assert instrument_storage(edge.storage, Telemetry()) is edge.storage


class TestProtection:
    @pytest.mark.asyncio
    async def test_a_token_protects_the_route(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, metrics_token=SecretStr("scrape-secret"))
        async with running(make_app(settings)) as client:
            refused = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthorized")
        assert wrong.status_code == 401
        assert allowed.status_code == 200
        assert "chat_http_request_duration_seconds" in allowed.text

    @pytest.mark.asyncio
    async def test_production_without_a_token_does_not_serve_metrics_on_the_service_port(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = make_settings(
            tmp_path, env=Environment.PRODUCTION, auth_mode="oidc", dev_jwt_secret=None, **OIDC
        )
        async with running(make_app(settings)) as client:
            response = await client.get("/metrics")
        assert response.status_code == 404
        assert any("CHAT_METRICS_TOKEN" in record.getMessage() for record in caplog.records)

    @pytest.mark.asyncio
    async def test_a_port_of_their_own(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, metrics_port=0)
        app = make_app(settings)
        async with running(app) as client:
            await client.get("/items/x")
            assert (await client.get("/metrics")).status_code == 404
            host, port = app.state.metrics_address
            async with httpx.AsyncClient() as scraper:
                scraped = await scraper.get(f"http://{host}:{port}/metrics")
        assert value(scraped.text, "chat_http_request_duration_seconds_count", route="/items/{item_id}") == 1
        async with httpx.AsyncClient() as scraper:
            with pytest.raises(httpx.TransportError):
                await scraper.get(f"http://{host}:{port}/metrics", timeout=2)  # stopped with the app

    @pytest.mark.asyncio
    async def test_disabled(self, tmp_path: Path) -> None:
        app = make_app(make_settings(tmp_path, metrics_enabled=False))
        async with running(app) as client:
            assert (await client.get("/metrics")).status_code == 404
        assert telemetry_of(app).metrics is None


class TestQuotaAndRateLimitCounters:
    def test_counted_under_their_fixed_labels(self) -> None:
        metrics = EdgeMetrics()
        metrics.quota_blocked("monthly_limit")
        metrics.quota_blocked("monthly_limit")
        metrics.quota_blocked("store_unavailable")
        metrics.rate_limit_refused("turn")
        text = metrics.exposition().decode()
        assert value(text, "chat_quota_blocks_total", reason="monthly_limit") == 2
        assert value(text, "chat_quota_blocks_total", reason="store_unavailable") == 1
        assert value(text, "chat_rate_limit_refusals_total", limit="turn") == 1
