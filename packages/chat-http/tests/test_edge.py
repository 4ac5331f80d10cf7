"""The edge both services install, tested once on a small app over real HTTP semantics (ASGI):
every error code's status and body, validation and routing errors, the last-resort 500, the request
id and access log, and the caller dependencies."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from pydantic import BaseModel, SecretStr

from chat_core.errors import ChatError, ErrorCode, RateLimitError
from chat_http.app import create_service_app
from chat_http.auth import DevTokenVerifier, VerifiedToken, mint_dev_token
from chat_http.dependencies import AdminUser, CurrentUser
from chat_http.errors import STATUS_BY_CODE
from chat_http.settings import EdgeSettings, Environment
from chat_http.state import ServiceState, lifespan_state, open_edge_resources

SECRET = "x" * 40
UPLOAD_LIMIT = 8192


def every_error_class() -> dict[ErrorCode, type[ChatError]]:
    found: dict[ErrorCode, type[ChatError]] = {}
    stack: list[type[ChatError]] = [ChatError]
    while stack:
        cls = stack.pop()
        found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found


class Body(BaseModel):
    name: str
    count: int


def make_app(tmp_path: Path, **overrides: Any) -> FastAPI:
    values: dict[str, Any] = {"data_dir": tmp_path, "dev_jwt_secret": SecretStr(SECRET)} | overrides
    settings = EdgeSettings(_env_file=None, **values)  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, ServiceState]]:
        async with AsyncExitStack() as stack:
            edge = await open_edge_resources(settings, stack)
            yield lifespan_state(
                ServiceState(
                    settings=settings, storage=edge.storage, verifier=edge.verifier, knowledge=edge.knowledge
                )
            )

    app = create_service_app(
        settings,
        service="edge-test",
        title="t",
        version="1",
        lifespan=lifespan,
        body_limits=[("/upload", UPLOAD_LIMIT)],
    )

    @app.put("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/raise/{code}")
    async def raise_code(code: ErrorCode) -> None:
        error_class = every_error_class()[code]
        error = (
            error_class("Safe message.")
            if error_class is not RateLimitError
            else RateLimitError("Slow down.", retry_after=7)
        )
        error.field = "thing"
        raise error

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM table")

    @app.post("/items")
    async def create_item(body: Body) -> Body:
        return body

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"userId": user.user_id, "roles": user.roles}

    @app.get("/admin")
    async def admin(user: AdminUser) -> dict[str, str]:
        return {"userId": user.user_id}

    return app


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_asgi(make_app(tmp_path, max_body_bytes=2048, max_header_bytes=8192)) as http:
        yield http


@asynccontextmanager
async def serve_asgi(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
            yield http


def _with_state(app: FastAPI, state: dict[str, Any]) -> Any:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "state": dict(state)}
        await app(scope, receive, send)

    return asgi


def token(user_id: str = "alice", roles: list[str] | None = None) -> dict[str, str]:
    minted = mint_dev_token(SECRET, user_id=user_id, email=f"{user_id}@example.com", roles=roles or [])
    return {"Authorization": f"Bearer {minted}"}


class TestErrorBody:
    @pytest.mark.parametrize("code", list(ErrorCode))
    @pytest.mark.asyncio
    async def test_every_code_has_its_status_and_the_documented_body(
        self, client: httpx.AsyncClient, code: ErrorCode
    ) -> None:
        response = await client.get(f"/raise/{code.value}", headers={"X-Request-ID": "req-42"})
        assert response.status_code == STATUS_BY_CODE[code]
        error = response.json()["error"]
        assert error == {
            "code": code.value,
            "message": error["message"],
            "detail": None,
            "field": "thing",
            "requestId": "req-42",
        }
        assert error["message"] in {"Safe message.", "Slow down."}
        assert response.headers["X-Request-ID"] == "req-42"

    def test_the_status_map_covers_every_code_with_the_documented_statuses(self) -> None:
        assert {code.value: status for code, status in STATUS_BY_CODE.items()} == {
            "bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
            "validation_error": 422, "rate_limit_exceeded": 429, "quota_exceeded": 429, "internal_error": 500,
            "service_unavailable": 503, "timeout": 504, "model_error": 502, "stream_error": 500,
        }  # fmt: skip

    @pytest.mark.asyncio
    async def test_retry_after_is_a_header(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/raise/rate_limit_exceeded")
        assert response.headers["Retry-After"] == "7"

    @pytest.mark.asyncio
    async def test_validation_names_every_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/items", json={"name": None, "count": "many"})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["field"] == "name"
        assert [problem["field"] for problem in error["detail"]] == ["name", "count"]

    @pytest.mark.asyncio
    async def test_unknown_route_and_wrong_method(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/nowhere")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        wrong = await client.delete("/items")
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "bad_request")
        assert wrong.headers["Allow"] == "POST"

    @pytest.mark.asyncio
    async def test_an_unexpected_exception_is_a_generic_500(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="edge_test.access"):
            response = await client.get("/boom")
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "internal_error"
        assert "SELECT" not in response.text
        assert "RuntimeError" not in response.text
        assert response.headers["X-Request-ID"] == error["requestId"]
        assert any(record.exc_info for record in caplog.records)  # the traceback stays in the logs


class TestRequestContext:
    @pytest.mark.asyncio
    async def test_a_plain_client_id_is_kept_and_anything_else_replaced(
        self, client: httpx.AsyncClient
    ) -> None:
        kept = await client.get("/nowhere", headers={"X-Request-ID": "abc.DEF-1:2"})
        assert kept.headers["X-Request-ID"] == "abc.DEF-1:2"
        replaced = await client.get("/nowhere", headers={"X-Request-ID": "bad id\twith spaces"})
        assert len(replaced.headers["X-Request-ID"]) == 32

    @pytest.mark.asyncio
    async def test_each_request_writes_one_timed_access_line(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="edge_test.access"):
            await client.get("/nowhere", headers={"X-Request-ID": "r-1"})
        lines = [record for record in caplog.records if record.name == "edge_test.access"]
        assert len(lines) == 1
        assert (lines[0].method, lines[0].path, lines[0].status) == ("GET", "/nowhere", 404)  # type: ignore[attr-defined]
        assert lines[0].durationMs >= 0  # type: ignore[attr-defined]


class TestCaller:
    @pytest.mark.asyncio
    async def test_no_token_a_bad_token_and_a_good_one(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/me")
        assert (missing.status_code, missing.json()["error"]["code"]) == (401, "unauthorized")
        basic = await client.get("/me", headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401
        forged = mint_dev_token("y" * 40, user_id="alice", email="alice@example.com")
        refused = await client.get("/me", headers={"Authorization": f"Bearer {forged}"})
        assert (refused.status_code, refused.json()["error"]["message"]) == (
            401,
            "The token could not be verified.",
        )
        good = await client.get("/me", headers=token(roles=["staff"]))
        assert good.json() == {"userId": "alice", "roles": ["staff"]}

    @pytest.mark.asyncio
    async def test_a_token_is_verified_once_and_every_other_text_still_is(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verified: list[str] = []
        verify = DevTokenVerifier.verify_token

        def counting(self: DevTokenVerifier, text: str) -> VerifiedToken:
            verified.append(text)
            return verify(self, text)

        monkeypatch.setattr(DevTokenVerifier, "verify_token", counting)
        alice = token("alice")
        for _ in range(3):
            assert (await client.get("/me", headers=alice)).json()["userId"] == "alice"
        assert len(verified) == 1
        head, signature = alice["Authorization"].rsplit(".", 1)
        forged = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
        refused = await client.get("/me", headers={"Authorization": forged})
        assert refused.status_code == 401
        assert (await client.get("/me", headers=token("bob"))).json()["userId"] == "bob"
        assert len(verified) == 3

    @pytest.mark.asyncio
    async def test_the_profile_is_recorded_on_first_sight(self, client: httpx.AsyncClient) -> None:
        await client.get("/me", headers=token("carol"))
        found = await client.get("/me", headers=token("carol"))
        assert found.status_code == 200

    @pytest.mark.asyncio
    async def test_administrators_only(self, client: httpx.AsyncClient) -> None:
        refused = await client.get("/admin", headers=token("bob"))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        allowed = await client.get("/admin", headers=token("ada", roles=["admin"]))
        assert allowed.json() == {"userId": "ada"}


async def chunks(total: int, size: int = 1024) -> AsyncIterator[bytes]:
    """A body sent without `Content-Length` (chunked)."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


class TestRequestLimits:
    @pytest.mark.asyncio
    async def test_a_head_over_the_limit_is_431_with_the_error_body(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/me", headers={"Authorization": "Bearer " + "a" * 9000})
        assert response.status_code == 431
        error = response.json()["error"]
        assert (error["code"], error["detail"]) == ("bad_request", {"maxBytes": 8192})
        assert error["requestId"] == response.headers["X-Request-ID"]

    @pytest.mark.asyncio
    async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(
        self, client: httpx.AsyncClient
    ) -> None:
        read: list[int] = []

        async def counted() -> AsyncIterator[bytes]:
            for _ in range(3):
                read.append(1)
                yield b"x" * 1024

        response = await client.post(
            "/items",
            content=counted(),
            headers={"Content-Length": "3072", "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        error = response.json()["error"]
        assert (error["code"], error["field"], error["detail"]) == (
            "validation_error",
            "body",
            {"maxBytes": 2048},
        )
        assert read == []  # answered from the declared length alone

    @pytest.mark.asyncio
    async def test_a_streamed_body_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/items", content=chunks(4096), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "validation_error"

    @pytest.mark.asyncio
    async def test_each_route_class_has_its_own_limit(self, client: httpx.AsyncClient) -> None:
        within = await client.put("/upload", content=b"x" * UPLOAD_LIMIT)
        assert within.json() == {"bytes": UPLOAD_LIMIT}
        streamed = await client.put("/upload", content=chunks(UPLOAD_LIMIT))
        assert streamed.json() == {"bytes": UPLOAD_LIMIT}
        assert (await client.put("/upload", content=b"x" * (UPLOAD_LIMIT + 1))).status_code == 413
        assert (await client.put("/upload", content=chunks(UPLOAD_LIMIT + 1))).status_code == 413
        assert (await client.post("/items", json={"name": "n" * 1500, "count": 1})).status_code == 200


class TestResponseHeaders:
    @pytest.mark.asyncio
    async def test_nosniff_everywhere_and_no_store_on_authenticated_json(
        self, client: httpx.AsyncClient
    ) -> None:
        public = await client.get("/nowhere")
        private = await client.get("/me", headers=token())
        refused = await client.get("/me", headers={"Authorization": "Bearer nope"})
        for response in (public, private, refused):
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Cache-Control" not in public.headers
        assert private.headers["Cache-Control"] == "no-store"
        assert refused.headers["Cache-Control"] == "no-store"


class TestApiDocs:
    PRODUCTION: ClassVar[dict[str, Any]] = {
        "env": Environment.PRODUCTION,
        "dev_jwt_secret": None,
        "oidc_issuer": "https://id.example",
        "oidc_audience": "api://chat",
        "oidc_jwks_url": "https://id.example/keys",
    }

    @pytest.mark.asyncio
    async def test_served_in_development_off_in_production_unless_enabled(self, tmp_path: Path) -> None:
        async def statuses(app: FastAPI) -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
                return [(await http.get(path)).status_code for path in ("/docs", "/redoc", "/openapi.json")]

        assert await statuses(make_app(tmp_path)) == [200, 200, 200]
        assert await statuses(make_app(tmp_path, **self.PRODUCTION)) == [404, 404, 404]
        assert await statuses(make_app(tmp_path, **self.PRODUCTION, api_docs=True)) == [200, 200, 200]
