"""Every Prometheus metric of the platform, defined once, in a registry per service process.

Both services expose the same families (a family a service never feeds stays empty or at zero), so
dashboards and alerts are written once. Label values come from small fixed sets — route templates,
HTTP methods and statuses, storage operations, managed-model ids, error codes — never from user ids,
session ids or raw paths.

Each process serves its own registry: a service runs one uvicorn worker per process (`chat_http.serve`),
so Prometheus' multiprocess mode is not needed. A deployment that wants more workers runs more
processes (containers), each scraped on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from chat_core.errors import ErrorCode
from chat_http.errors import error_response

__all__ = [
    "UNMATCHED_ROUTE",
    "EdgeMetrics",
    "IngestionOutcome",
    "QuotaBlockReason",
    "RateLimitName",
    "TokenKind",
    "metrics_endpoint",
]

UNMATCHED_ROUTE: Final = "<unmatched>"
"""The route label of requests no route matched (404s, 405s): raw paths would be unbounded."""

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

QuotaBlockReason = Literal["daily_limit", "monthly_limit", "store_unavailable"]
"""Why a turn was refused by the spend quota (the store being down refuses too: never fail open)."""
RateLimitName = Literal["turn", "write"]
"""Which request-rate limit refused a request: chat turns or write routes."""
TokenKind = Literal["input", "output", "cache_read", "cache_write"]
IngestionOutcome = Literal["complete", "failed", "deleted", "cancelled"]

_REQUEST_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_STORAGE_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_FIRST_TOKEN_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
_TURN_BUCKETS: Final = (0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
_INGESTION_BUCKETS: Final = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class EdgeMetrics:
    """The metric families of one service process, registered in `registry`.

    The README of chat-http lists every family with its labels.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry

        # HTTP (recorded by the request-context middleware)
        self.request_duration = Histogram(
            "chat_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (streams included), by route "
            "template, method and status; its _count is the number of requests.",
            ["route", "method", "status"],
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self._request_series: dict[tuple[str, str, int], Histogram] = {}
        """The labelled series already used, by (route, method, status): a bounded set."""

        # Storage (recorded by the storage proxy of chat_http.telemetry)
        self.storage_duration = Histogram(
            "chat_storage_operation_duration_seconds",
            "Latency of storage operations, by backend, repository and operation.",
            ["backend", "repository", "operation"],
            buckets=_STORAGE_BUCKETS,
            registry=registry,
        )
        self.storage_errors = Counter(
            "chat_storage_operation_errors",
            "Storage operations that raised, by backend, repository, operation and error code.",
            ["backend", "repository", "operation", "code"],
            registry=registry,
        )

        # Chat turns
        self.turns_started = Counter(
            "chat_turns_started", "Turns started, by managed model.", ["model"], registry=registry
        )
        self.turns_completed = Counter(
            "chat_turns_completed", "Turns answered and stored completely.", ["model"], registry=registry
        )
        self.turns_failed = Counter(
            "chat_turns_failed",
            "Turns that failed, by model and error code.",
            ["model", "code"],
            registry=registry,
        )
        self.turns_running = Gauge(
            "chat_turns_running", "Turns running now (including those whose client left).", registry=registry
        )
        self.turn_first_token = Histogram(
            "chat_turn_time_to_first_token_seconds",
            "Time from a turn's request to the model's first output.",
            ["model"],
            buckets=_FIRST_TOKEN_BUCKETS,
            registry=registry,
        )
        self.turn_duration = Histogram(
            "chat_turn_duration_seconds",
            "Time from a turn's request to its answer being complete (before storing it).",
            ["model"],
            buckets=_TURN_BUCKETS,
            registry=registry,
        )
        self.turn_tokens = Counter(
            "chat_turn_tokens",
            "Tokens used by turns, by model and kind (input, output, cache_read, cache_write).",
            ["model", "kind"],
            registry=registry,
        )
        self.turn_cost = Counter(
            "chat_turn_cost_usd", "Cost of turns in US dollars, by model.", ["model"], registry=registry
        )

        # Knowledge-base ingestion (app-api)
        self.ingestion_documents = Counter(
            "chat_ingestion_documents",
            "Documents whose ingestion ended, by outcome (complete, failed, deleted, cancelled).",
            ["status"],
            registry=registry,
        )
        self.ingestion_chunks = Counter(
            "chat_ingestion_chunks", "Chunks embedded and indexed (rate() gives chunks/s).", registry=registry
        )
        self.ingestion_queue_depth = Gauge(
            "chat_ingestion_queue_depth",
            "Documents queued for ingestion, waiting for a slot.",
            registry=registry,
        )
        self.ingestion_running = Gauge(
            "chat_ingestion_running", "Documents being ingested now.", registry=registry
        )
        self.ingestion_duration = Histogram(
            "chat_ingestion_duration_seconds",
            "Time to ingest one document once it has a slot, by outcome.",
            ["status"],
            buckets=_INGESTION_BUCKETS,
            registry=registry,
        )

        # Quotas and rate limits (counted where the decision is taken)
        self.quota_blocks = Counter(
            "chat_quota_blocks",
            "Turns refused by the spend quota, by reason (daily_limit, monthly_limit, store_unavailable).",
            ["reason"],
            registry=registry,
        )
        self.rate_limit_refusals = Counter(
            "chat_rate_limit_refusals",
            "Requests refused by a request-rate limit, by limit (turn, write).",
            ["limit"],
            registry=registry,
        )

    def observe_request(self, scope: Scope, status: int, seconds: float) -> None:
        """Record one served request under its route template (never its raw path)."""
        template = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (template, method, status)
        series = self._request_series.get(key)
        if series is None:  # resolving labels takes a lock and validation: once per series
            series = self._request_series[key] = self.request_duration.labels(template, method, str(status))
        series.observe(seconds)

    def quota_blocked(self, reason: QuotaBlockReason) -> None:
        """Count a turn refused by the spend quota."""
        self.quota_blocks.labels(reason).inc()

    def rate_limit_refused(self, limit: RateLimitName) -> None:
        """Count a request refused by a request-rate limit."""
        self.rate_limit_refusals.labels(limit).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def metrics_endpoint(metrics: EdgeMetrics, token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """The `GET /metrics` endpoint; with `token`, only for `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode() if token else None

    async def read_metrics(request: Request) -> Response:
        if expected is not None and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), expected
        ):
            return error_response(
                401,
                ErrorCode.UNAUTHORIZED,
                "A valid metrics token is required.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return read_metrics
