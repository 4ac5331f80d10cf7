"""With storage unreachable (the aws backend's moto server stopped), data routes answer 503 with the
error body and `Retry-After` within 5 seconds, and `/health` reports it. Default timeouts and retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chat_storage.aws.testing import start_moto_server

CheckError = Callable[..., dict[str, Any]]

DATA_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/sessions", None),
    ("GET", "/sessions/s-1/metadata", None),
    ("PUT", "/sessions/s-1/metadata", {"title": "x"}),
    ("DELETE", "/sessions/s-1", None),
    ("GET", "/sessions/s-1/messages", None),
    ("GET", "/models", None),
    ("GET", "/assistants", None),
    ("POST", "/assistants", {"name": "x"}),
    ("GET", "/assistants/ast-000000000000", None),
    (
        "POST",
        "/files/presign",
        {"sessionId": "s-1", "filename": "a.txt", "mimeType": "text/plain", "sizeBytes": 1},
    ),
    ("GET", "/files", None),
    ("GET", "/files/quota", None),
    ("GET", "/costs/summary", None),
    ("GET", "/users/search?q=a", None),
    ("POST", "/chat/generate-title", {"session_id": "s-1", "input": "hello"}),
]


@pytest.fixture
def stopped_storage_app(
    tmp_path: Path,
    aws_settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> Iterator[tuple[Any, Callable[[], None]]]:
    """The app on its own moto server; the second item stops that server."""
    server = start_moto_server()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        server.stop()
        stopped = True

    settings = aws_settings_for(tmp_path, server.endpoint, aws_connect_timeout=2.0, aws_max_attempts=3)
    try:
        with start_app(settings) as live:
            yield live, stop
    finally:
        if not stopped:
            server.stop()


async def timed(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: Any
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path, json=body, headers=headers)
    return response, time.monotonic() - started


class TestStorageDown:
    @pytest.mark.asyncio
    async def test_data_routes_answer_503_quickly_and_health_reports_it(
        self,
        stopped_storage_app: tuple[Any, Callable[[], None]],
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        live, stop = stopped_storage_app
        known = auth("known")
        async with httpx.AsyncClient(base_url=live.base_url, timeout=20) as client:
            assert (await client.get("/sessions", headers=known)).status_code == 200
            assert (await client.get("/health")).status_code == 200
            stop()
            calls = [
                (method, path, body, headers)
                for headers in (known, auth("newcomer"))
                for method, path, body in DATA_ROUTES
            ]
            calls.append(("GET", "/health", None, {}))
            results = await asyncio.gather(*(timed(client, *call) for call in calls))
        for (method, path, _, _), (response, elapsed) in zip(calls, results, strict=True):
            error = check_error(response, 503, "service_unavailable")
            assert elapsed < 5, (method, path, elapsed)
            assert int(response.headers["retry-after"]) > 0
            assert "Traceback" not in response.text
            assert error["message"]
