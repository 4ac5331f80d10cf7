"""Everything refused before the first event: HTTP errors with the documented error body."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from inference_testing import (
    SCRIPTED_MODEL_ID,
    ScriptedModels,
    Service,
    managed_model,
    post_turn,
    seed_tools,
    serve_app,
    storage_for,
)
from pydantic import ValidationError

from chat_agent.models import Grounding, ModelRequest, ProviderModels
from chat_core.errors import BadRequestError
from chat_core.ids import SessionId, UserId
from chat_core.managed_models import ModelProvider
from chat_core.roles import AppRole
from chat_core.tools import ToolStatus
from chat_http.auth import mint_dev_token
from chat_storage.local.testing import hold_database
from inference_api.config import Environment, Settings
from inference_api.main import create_app

Headers = Callable[..., dict[str, str]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def turn_error(service: Service, headers: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
    async with service.client() as client:
        turn = await post_turn(client, headers, **({"session_id": "s-1", "message": "Hi"} | body))
    assert turn.error is not None, f"expected an error, got {turn.names()}"
    assert set(turn.error) == {"code", "message", "detail", "field", "requestId"}
    assert turn.error["requestId"] == turn.headers["x-request-id"]
    return turn.status, turn.error


class TestAuthentication:
    @pytest.mark.asyncio
    async def test_no_token_is_401(self, service: Service) -> None:
        async with service.client() as client:
            response = await client.post("/invocations", json={"session_id": "s-1", "message": "Hi"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    @pytest.mark.asyncio
    async def test_a_token_signed_with_another_key_is_401(self, service: Service) -> None:
        forged = mint_dev_token("another-secret-" + "y" * 40, user_id="alice", email="alice@example.com")
        status, error = await turn_error(service, {"Authorization": f"Bearer {forged}"})
        assert (status, error["code"]) == (401, "unauthorized")
        assert service.scripted.models == []


class TestBody:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"message": "   "}, "message"),
            ({"message": ""}, "message"),
            ({"session_id": "../etc"}, "session_id"),
            ({"temperature": 1.5}, "temperature"),
            ({"max_tokens": 0}, "max_tokens"),
            ({"assistant_id": "a b"}, "assistant_id"),
            ({"files": [{"filename": "a.txt", "content_type": "text/plain"}]}, "files.0.bytes"),
        ],
    )
    @pytest.mark.asyncio
    async def test_invalid_fields_are_422(
        self, service: Service, auth: Headers, body: dict[str, Any], field: str
    ) -> None:
        status, error = await turn_error(service, auth("alice"), **body)
        assert (status, error["code"], error["field"]) == (422, "validation_error", field)

    @pytest.mark.asyncio
    async def test_configured_lengths_are_enforced(self, service: Service, auth: Headers) -> None:
        status, error = await turn_error(service, auth("alice"), message="x" * 100_001)
        assert (status, error["field"], error["detail"]) == (422, "message", {"maxChars": 100_000})
        status, error = await turn_error(service, auth("alice"), system_prompt="y" * 20_001)
        assert (status, error["field"]) == (422, "system_prompt")

    @pytest.mark.asyncio
    async def test_max_tokens_beyond_the_model_is_422(self, service: Service, auth: Headers) -> None:
        status, error = await turn_error(service, auth("alice"), model_id=SCRIPTED_MODEL_ID, max_tokens=4097)
        assert (status, error["field"], error["detail"]) == (422, "max_tokens", {"maximum": 4096})


class TestAttachmentLimits:
    @pytest.mark.asyncio
    async def test_inline_files_and_upload_ids_count_together(self, service: Service, auth: Headers) -> None:
        files = [
            {"filename": f"f{i}.txt", "content_type": "text/plain", "bytes": b64(b"hello")} for i in range(3)
        ]
        status, error = await turn_error(
            service, auth("alice"), files=files, file_upload_ids=["u1", "u2", "u3"]
        )
        assert (status, error["code"]) == (422, "validation_error")
        assert error["detail"] == {"maxFiles": 5, "given": 6}
        assert service.scripted.models == []

    @pytest.mark.asyncio
    async def test_an_oversized_file_is_422(self, service: Service, auth: Headers) -> None:
        big = {
            "filename": "big.txt",
            "content_type": "text/plain",
            "bytes": b64(b"x" * (4 * 1024 * 1024 + 1)),
        }
        status, error = await turn_error(service, auth("alice"), files=[big])
        assert (status, error["field"], error["detail"]) == (422, "files.0", {"maxBytes": 4 * 1024 * 1024})

    @pytest.mark.parametrize(
        "file",
        [
            {"filename": "run.exe", "content_type": "application/x-msdownload", "bytes": b64(b"MZ")},
            {"filename": "a.txt", "content_type": "text/plain", "bytes": "not base64!"},
        ],
    )
    @pytest.mark.asyncio
    async def test_bad_inline_files_are_422(
        self, service: Service, auth: Headers, file: dict[str, str]
    ) -> None:
        status, error = await turn_error(service, auth("alice"), files=[file])
        assert (status, error["field"]) == (422, "files.0")


class TestModelAccess:
    @pytest.mark.asyncio
    async def test_a_model_for_other_roles_is_403(self, service: Service, auth: Headers) -> None:
        await service.storage.managed_models.create(managed_model("staff-model", roles=["staff"]))
        status, error = await turn_error(service, auth("alice"), model_id="staff-model")
        assert (status, error["code"], error["field"]) == (403, "forbidden", "model_id")
        async with service.client() as client:
            allowed = await post_turn(
                client, auth("bob", roles=["staff"]), session_id="s-1", message="Hi", model_id="staff-model"
            )
        assert allowed.status == 200
        assert service.scripted.requests[0].managed_model.model_id == "staff-model"

    @pytest.mark.asyncio
    async def test_a_disabled_model_is_403(self, service: Service, auth: Headers) -> None:
        await service.storage.managed_models.create(managed_model("old-model", enabled=False))
        status, error = await turn_error(service, auth("alice"), model_id="old-model")
        assert (status, error["code"]) == (403, "forbidden")

    @pytest.mark.asyncio
    async def test_an_unknown_model_is_404(self, service: Service, auth: Headers) -> None:
        status, error = await turn_error(service, auth("alice"), model_id="gpt-imaginary")
        assert (status, error["code"], error["field"]) == (404, "not_found", "model_id")

    @pytest.mark.asyncio
    async def test_without_model_id_the_configured_default_is_used(
        self, service: Service, auth: Headers
    ) -> None:
        async with service.client() as client:
            turn = await post_turn(client, auth("alice"), session_id="s-1", message="Hi", provider="openai")
        assert turn.status == 200
        request = service.scripted.requests[0]
        assert request.managed_model.model_id == "offline-extractive"
        assert request.managed_model.provider is ModelProvider.OFFLINE, "the provider field is not a guess"

    def test_the_offline_model_is_refused_in_production(self) -> None:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            env=Environment.PRODUCTION,
            oidc_issuer="https://issuer.example",
            oidc_audience="chat",
            oidc_jwks_url="https://issuer.example/jwks",
            cors_origins="https://chat.example",
        )
        request = ModelRequest(
            managed_model(), temperature=0.5, max_tokens=None, caching=False, grounding=Grounding("q")
        )
        with pytest.raises(BadRequestError, match="not available in production"):
            ProviderModels(settings.provider_config())(request)


@pytest_asyncio.fixture
async def rbac(settings: Settings) -> AsyncIterator[Service]:
    """The service re-reading roles and catalogue on every request; calculator granted to `analysts`."""
    fresh = settings.model_copy(update={"roles_cache_seconds": 0})
    scripted = ScriptedModels()
    async with storage_for(fresh) as storage:
        await storage.managed_models.create(managed_model())
        await seed_tools(storage)
        calculator = await storage.tools.get("calculator")
        assert calculator is not None
        await storage.tools.put(calculator.model_copy(update={"is_public": False}))
        await storage.roles.create(
            AppRole(
                role_id="analysts",
                display_name="Analysts",
                jwt_role_mappings=["Analyst"],
                granted_tools=["calculator"],
            )
        )
        with serve_app(create_app(fresh, model_factory=scripted)) as url:
            yield Service(url, fresh, scripted, storage)


class TestTools:
    @pytest.mark.asyncio
    async def test_an_unknown_tool_is_422(self, service: Service, auth: Headers) -> None:
        status, error = await turn_error(service, auth("alice"), enabled_tools=["shell"])
        assert (status, error["field"]) == (422, "enabled_tools")

    @pytest.mark.asyncio
    async def test_tools_follow_app_roles_and_the_catalogue(self, rbac: Service, auth: Headers) -> None:
        """calculator is granted to the `analysts` AppRole only; current_time is public."""
        async with rbac.client() as client:
            denied = await post_turn(
                client, auth("alice"), session_id="s", message="Hi", enabled_tools=["calculator"]
            )
            granted = await post_turn(
                client,
                auth("ann", roles=["Analyst"]),
                session_id="s",
                message="Hi",
                enabled_tools=["calculator", "current_time"],
            )
            public = await post_turn(
                client, auth("alice"), session_id="s", message="Hi", enabled_tools=["current_time"]
            )
        assert denied.status == 403
        assert denied.error is not None
        assert (denied.error["code"], denied.error["field"]) == ("forbidden", "enabled_tools")
        assert denied.error["detail"] == {"denied": ["calculator"]}
        assert (granted.status, public.status) == (200, 200)
        specs = [call["tool_specs"] for model in rbac.scripted.models for call in model.calls]
        assert [sorted(spec["name"] for spec in tools) for tools in specs] == [
            ["calculator", "current_time"],
            ["current_time"],
        ]
        assert await rbac.storage.sessions.get(UserId("alice"), SessionId("s")) is not None

    @pytest.mark.asyncio
    async def test_a_role_change_applies_to_the_next_turn(self, rbac: Service, auth: Headers) -> None:
        analyst = auth("ann", roles=["Analyst"])
        async with rbac.client() as client:
            before = await post_turn(
                client, analyst, session_id="s", message="Hi", enabled_tools=["calculator"]
            )
            role = await rbac.storage.roles.get("analysts")
            assert role is not None
            await rbac.storage.roles.put_many([role.model_copy(update={"jwt_role_mappings": []})])
            after = await post_turn(
                client, analyst, session_id="s", message="Hi", enabled_tools=["calculator"]
            )
        assert (before.status, after.status) == (200, 403)

    @pytest.mark.asyncio
    async def test_a_disabled_or_uncatalogued_tool_is_403_even_when_public(
        self, rbac: Service, auth: Headers
    ) -> None:
        clock = await rbac.storage.tools.get("current_time")
        assert clock is not None
        await rbac.storage.tools.put(clock.model_copy(update={"status": ToolStatus.DISABLED}))
        status, error = await turn_error(rbac, auth("alice"), enabled_tools=["current_time"])
        assert (status, error["field"], error["detail"]) == (
            403,
            "enabled_tools",
            {"denied": ["current_time"]},
        )
        await rbac.storage.tools.delete("current_time")
        status, _ = await turn_error(rbac, auth("alice", roles=["Analyst"]), enabled_tools=["current_time"])
        assert status == 403
        assert rbac.scripted.models == []

    def test_the_removed_tool_roles_setting_stops_the_service_from_starting(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAT_TOOL_ROLES", '{"*": ["calculator"]}')
        with pytest.raises(ValidationError, match="CHAT_TOOL_ROLES is no longer read"):
            Settings(_env_file=None)  # type: ignore[call-arg]


class TestRoleStoreDown:
    @pytest.mark.asyncio
    async def test_on_sqlite_a_database_another_process_holds_is_503_never_allowed_nor_403(
        self, settings: Settings, auth: Headers
    ) -> None:
        """Roles re-read on every turn from the local database, which another process holds: the turn
        is a 503 with `Retry-After` and no model runs; once it lets go the same turn is allowed."""
        held = settings.model_copy(
            update={"roles_cache_seconds": 0, "rate_limits_enabled": False, "sqlite_busy_timeout_ms": 200}
        )
        scripted = ScriptedModels()
        body = {"session_id": "s-down", "message": "Hi", "enabled_tools": ["calculator"]}
        async with storage_for(held) as storage:
            await storage.managed_models.create(managed_model())
            await seed_tools(storage)
            with serve_app(create_app(held, model_factory=scripted)) as url:
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    before = await post_turn(client, auth("alice"), **body)
                    with hold_database(held.data_dir):
                        during = await post_turn(client, auth("alice"), **body)
                    after = await post_turn(client, auth("alice"), **body)
        assert (before.status, during.status, after.status) == (200, 503, 200)
        assert during.error is not None
        assert during.error["code"] == "service_unavailable"
        assert during.headers.get("retry-after")
        assert len(scripted.models) == 2, "no model ran for the refused turn"


class TestRefusedTurns:
    @pytest.mark.parametrize(
        ("body", "status"),
        [
            ({"model_id": "gpt-imaginary"}, 404),
            ({"model_id": "staff-model"}, 403),
            ({"enabled_tools": ["shell"]}, 422),
            ({"file_upload_ids": ["19a0c1e2f3a_0123456789abcdef"]}, 404),
            ({"assistant_id": "ast-nobody"}, 404),
            ({"max_tokens": 1_000_000}, 422),
        ],
    )
    @pytest.mark.asyncio
    async def test_a_refused_turn_leaves_no_session(
        self, service: Service, auth: Headers, body: dict[str, Any], status: int
    ) -> None:
        await service.storage.managed_models.create(managed_model("staff-model", roles=["staff"]))
        refused, _ = await turn_error(service, auth("alice"), session_id="s-refused", **body)
        assert refused == status
        assert await service.storage.sessions.get(UserId("alice"), SessionId("s-refused")) is None
        assert (await service.storage.messages.list(UserId("alice"), SessionId("s-refused"))).items == []
        assert (await service.storage.sessions.list(UserId("alice"))).items == []
