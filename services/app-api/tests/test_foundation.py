"""The service foundation: start-up, health, request ids, the error body for every kind of error."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field, ValidationError

from app_api.config import Environment, Settings
from app_api.dependencies import AdminUser, CurrentUser
from app_api.main import create_app
from chat_core.errors import NotFoundError, UnavailableError


class Item(BaseModel):
    name: str = Field(min_length=1)
    count: int


def probe_router() -> APIRouter:
    """Routes that fail in each way a real route can."""
    router = APIRouter()

    @router.get("/probe/missing")
    async def missing() -> None:
        raise NotFoundError("Session 's-1' was not found.")

    @router.get("/probe/down")
    async def down() -> None:
        raise UnavailableError("Storage is unavailable.", retry_after=3)

    @router.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("SELECT secret FROM users -- internal detail")

    @router.post("/probe/items")
    async def create(item: Item) -> Item:
        return item

    @router.get("/probe/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"userId": user.user_id}

    @router.get("/probe/admin")
    async def admin(user: AdminUser) -> dict[str, str]:
        return {"userId": user.user_id}

    return router


@pytest.fixture(scope="module")
def base_url(
    tmp_path_factory: pytest.TempPathFactory,
    settings_for: Callable[..., Settings],
    serve: Callable[[FastAPI], AbstractContextManager[str]],
) -> Iterator[str]:
    """One app with the probe routes for the whole module (the tests only read from it)."""
    app = create_app(settings_for(tmp_path_factory.mktemp("foundation"), log_json=True))
    app.include_router(probe_router())
    with serve(app) as url:
        yield url


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "detail", "field", "requestId"}
    assert error["requestId"] == response.headers["x-request-id"]
    return error


class TestHealth:
    def test_reports_storage_and_no_dependency_versions(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "healthy"
        assert body["service"] == "app-api"
        assert "packages" not in body  # public: no inventory of dependency versions for an attacker
        assert body["storage"] == {"backend": "sqlite", "reachable": True}

    def test_every_response_has_a_request_id(self, base_url: str) -> None:
        assert len(httpx.get(f"{base_url}/health").headers["x-request-id"]) == 32

    def test_a_sane_client_request_id_is_kept(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/health", headers={"X-Request-ID": "trace-abc.123"})
        assert response.headers["x-request-id"] == "trace-abc.123"

    def test_a_hostile_client_request_id_is_replaced(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/health", headers={"X-Request-ID": "x" * 500})
        assert response.headers["x-request-id"] != "x" * 500


class TestErrorBody:
    def test_chat_error(self, base_url: str) -> None:
        error = assert_error_body(httpx.get(f"{base_url}/probe/missing"), 404, "not_found")
        assert error["message"] == "Session 's-1' was not found."

    def test_unavailable_has_retry_after(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/probe/down")
        assert_error_body(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "3"

    def test_unknown_route(self, base_url: str) -> None:
        assert_error_body(httpx.get(f"{base_url}/no/such/route"), 404, "not_found")

    def test_wrong_method(self, base_url: str) -> None:
        assert_error_body(httpx.delete(f"{base_url}/health"), 405, "bad_request")

    def test_validation_lists_the_fields(self, base_url: str) -> None:
        error = assert_error_body(
            httpx.post(f"{base_url}/probe/items", json={"name": ""}), 422, "validation_error"
        )
        assert {problem["field"] for problem in error["detail"]} == {"name", "count"}
        assert error["field"] in {"name", "count"}

    def test_malformed_json(self, base_url: str) -> None:
        response = httpx.post(
            f"{base_url}/probe/items", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_error_body(response, 422, "validation_error")

    def test_unexpected_exception_leaks_nothing(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/probe/crash")
        error = assert_error_body(response, 500, "internal_error")
        assert "SELECT" not in response.text
        assert "RuntimeError" not in response.text
        assert error["detail"] is None


Auth = Callable[..., dict[str, str]]


class TestAuth:
    def test_missing_token_is_401(self, base_url: str) -> None:
        assert_error_body(httpx.get(f"{base_url}/probe/me"), 401, "unauthorized")

    def test_garbage_token_is_401(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/probe/me", headers={"Authorization": "Bearer nope"})
        assert_error_body(response, 401, "unauthorized")

    def test_basic_auth_is_401(self, base_url: str) -> None:
        response = httpx.get(f"{base_url}/probe/me", headers={"Authorization": "Basic YTpi"})
        assert_error_body(response, 401, "unauthorized")

    def test_valid_token(self, base_url: str, auth: Auth) -> None:
        assert httpx.get(f"{base_url}/probe/me", headers=auth("bob")).json() == {"userId": "bob"}

    def test_admin_route_refuses_non_admin_with_403(self, base_url: str, auth: Auth) -> None:
        assert_error_body(httpx.get(f"{base_url}/probe/admin", headers=auth("bob")), 403, "forbidden")

    def test_admin_route_accepts_admin(self, base_url: str, auth: Auth) -> None:
        assert httpx.get(f"{base_url}/probe/admin", headers=auth("root", roles=["admin"])).status_code == 200


class TestAccessLog:
    def test_one_timed_line_per_request(self, base_url: str, caplog: pytest.LogCaptureFixture) -> None:
        def health_lines() -> list[logging.LogRecord]:
            return [
                r
                for r in caplog.records
                if r.name == "app_api.access" and getattr(r, "path", "") == "/health"
            ]

        with caplog.at_level(logging.INFO, logger="app_api.access"):
            response = httpx.get(f"{base_url}/health")
            # The line is written once the response is sent: give the server thread a moment.
            deadline = time.monotonic() + 5
            while not health_lines() and time.monotonic() < deadline:
                time.sleep(0.01)
        records = health_lines()
        assert len(records) == 1
        assert records[0].status == 200  # type: ignore[attr-defined]
        assert records[0].durationMs >= 0  # type: ignore[attr-defined]
        assert response.status_code == 200


class TestSettings:
    def test_production_refuses_dev_auth(self) -> None:
        with pytest.raises(ValidationError, match="refused"):
            Settings(_env_file=None, env=Environment.PRODUCTION, auth_mode="dev")  # type: ignore[call-arg]

    def test_production_needs_oidc_settings(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_OIDC_ISSUER"):
            Settings(_env_file=None, env=Environment.PRODUCTION)  # type: ignore[call-arg]

    def test_production_with_oidc_is_accepted(self) -> None:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            env="production",
            oidc_issuer="https://id",
            oidc_audience="api",
            oidc_jwks_url="https://id/keys",
        )
        assert settings.effective_auth_mode == "oidc"

    def test_environment_variables_with_the_chat_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAT_ADMIN_ROLES", "admin, ops")
        monkeypatch.setenv("CHAT_CORS_ORIGINS", "https://a.example,https://b.example")
        monkeypatch.setenv("CHAT_STORAGE", "aws")
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.admin_roles == frozenset({"admin", "ops"})
        assert settings.cors_origins == ["https://a.example", "https://b.example"]
        assert settings.storage == "aws"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_console_script_serves_health(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"CHAT_DATA_DIR": str(tmp_path), "CHAT_LOG_JSON": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app_api", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    access = [json.loads(line) for line in stderr.splitlines() if '"app_api.access"' in line]
    assert any(
        entry["path"] == "/health" and entry["status"] == 200 and "durationMs" in entry for entry in access
    )


def test_dev_token_command_mints_a_token_the_service_accepts(tmp_path: Path) -> None:
    env = os.environ | {"CHAT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "app_api", "dev-token", "--user", "carol", "--roles", "admin"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    from chat_http.auth import DevTokenVerifier
    from chat_http.secrets import dev_jwt_secret

    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    user = DevTokenVerifier(dev_jwt_secret(settings)).verify(result.stdout.strip())
    assert (user.user_id, user.roles, user.email) == ("carol", ["admin"], "carol@example.com")
