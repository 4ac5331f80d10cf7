"""The AgentCore Runtime's request headers: its session id (bounded, logged with the request id) and the
custom headers it forwards, which reach the request context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from chat_core.logs import JsonFormatter
from chat_http.app import create_service_app
from chat_http.runtime import CUSTOM_HEADER_PREFIX, RUNTIME_SESSION_HEADER, RuntimeContextDep
from chat_http.settings import EdgeSettings

RUNTIME_SESSION = "runtime-session-" + "7" * 20  # 36 characters, as the runtime's UUID-like ids


def make_app(tmp_path: Path, *, agentcore_runtime: bool = True) -> FastAPI:
    settings = EdgeSettings(_env_file=None, data_dir=tmp_path, dev_jwt_secret=SecretStr("x" * 40))  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = create_service_app(
        settings,
        service="runtime-test",
        title="t",
        version="1",
        lifespan=lifespan,
        agentcore_runtime=agentcore_runtime,
    )

    @app.post("/invocations")
    async def invoke(runtime: RuntimeContextDep) -> dict[str, Any]:
        return {"sessionId": runtime.session_id, "custom": dict(runtime.custom_headers)}

    return app


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://runtime") as http:
        yield http


class TestRuntimeHeaders:
    @pytest.mark.asyncio
    async def test_the_session_id_and_custom_headers_reach_the_request_context(self, tmp_path: Path) -> None:
        headers = {
            RUNTIME_SESSION_HEADER: RUNTIME_SESSION,
            f"{CUSTOM_HEADER_PREFIX}Tenant": "blue",
            "X-Other": "not forwarded",
        }
        async with client_of(make_app(tmp_path)) as client:
            response = await client.post("/invocations", headers=headers)
        assert response.json() == {
            "sessionId": RUNTIME_SESSION,
            "custom": {"x-amzn-bedrock-agentcore-runtime-custom-tenant": "blue"},
        }

    @pytest.mark.asyncio
    async def test_outside_the_runtime_the_context_is_empty(self, tmp_path: Path) -> None:
        async with client_of(make_app(tmp_path)) as client:
            response = await client.post("/invocations")
        assert response.json() == {"sessionId": None, "custom": {}}

    @pytest.mark.asyncio
    async def test_a_service_off_the_runtime_ignores_the_headers(self, tmp_path: Path) -> None:
        async with client_of(make_app(tmp_path, agentcore_runtime=False)) as client:
            response = await client.post("/invocations", headers={RUNTIME_SESSION_HEADER: "short"})
        assert response.json() == {"sessionId": None, "custom": {}}

    @pytest.mark.parametrize("session_id", ["x" * 32, "x" * 257, "with a space" + "x" * 30])
    @pytest.mark.asyncio
    async def test_a_session_id_outside_the_runtime_bounds_is_refused(
        self, tmp_path: Path, session_id: str
    ) -> None:
        async with client_of(make_app(tmp_path)) as client:
            response = await client.post("/invocations", headers={RUNTIME_SESSION_HEADER: session_id})
        assert response.status_code == 422
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("validation_error", RUNTIME_SESSION_HEADER)
        assert error["requestId"] == response.headers["X-Request-ID"]

    @pytest.mark.asyncio
    async def test_the_session_id_is_logged_with_the_request_id(self, tmp_path: Path) -> None:
        written = io.StringIO()
        handler = logging.StreamHandler(written)
        handler.setFormatter(JsonFormatter())
        access = logging.getLogger("runtime_test.access")
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        try:
            async with client_of(make_app(tmp_path)) as client:
                await client.post(
                    "/invocations", headers={RUNTIME_SESSION_HEADER: RUNTIME_SESSION, "X-Request-ID": "req-9"}
                )
        finally:
            access.removeHandler(handler)
        (line,) = [json.loads(text) for text in written.getvalue().splitlines()]
        assert (line["requestId"], line["runtimeSessionId"], line["status"]) == (
            "req-9",
            RUNTIME_SESSION,
            200,
        )
