"""Sign-in over HTTP against a real OpenID provider process on 127.0.0.1, on both storage backends.

The whole flow: login URL → provider authorize → callback code → `/auth/token` → a protected route with
the access token → `/auth/refresh` → logout; and what must fail: replayed, expired and unknown states,
a wrong redirect URI, a tampered code, the provider being down (503 with the error body).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app_api.config import Settings
from chat_core.clock import utc_now
from chat_core.identity import LoginState
from chat_storage import open_storage

CALLBACK = "http://localhost:4200/auth/callback"
EMPLOYEE = "http://schemas.boisestate.edu/claims/employeenumber"
ErrorCheck = Callable[[httpx.Response, int, str], dict[str, Any]]


def _provider_module() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "scripts" / "oidc_provider.py"
    spec = importlib.util.spec_from_file_location("oidc_provider", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["oidc_provider"] = module
    spec.loader.exec_module(module)
    return module


PROVIDER = _provider_module()


@pytest.fixture(scope="module")
def provider() -> Iterator[Any]:
    with PROVIDER.provider_process(PROVIDER.ProviderConfig(client_secret="s3cret")) as running:
        yield running


def oidc_overrides(provider: Any) -> dict[str, Any]:
    return {
        "auth_mode": "oidc",
        "oidc_issuer": provider.issuer,
        "oidc_audience": f"{provider.config.audience},{provider.config.client_id}",
        "oidc_client_id": provider.config.client_id,
        "oidc_client_secret": provider.config.client_secret,
        "oidc_required_scope": "Read",
        "oidc_user_id_claim": EMPLOYEE,
        "admin_roles": frozenset({"Admin"}),
    }


@pytest.fixture(scope="module", params=["sqlite", pytest.param("aws", marks=pytest.mark.aws)])
def app(
    request: pytest.FixtureRequest, provider: Any, tmp_path_factory: pytest.TempPathFactory,
    settings_for: Callable[..., Settings],
) -> Iterator[Any]:  # fmt: skip
    from .conftest import aws_settings, run_live  # type: ignore[import-not-found]

    data = tmp_path_factory.mktemp(f"auth-{request.param}")
    settings = (
        settings_for(data, **oidc_overrides(provider))
        if request.param == "sqlite"
        else aws_settings(data, request.getfixturevalue("moto_endpoint"), **oidc_overrides(provider))
    )
    with run_live(settings) as live:
        yield live


def sign_in_at_provider(authorization_url: str, user: str = "ada") -> dict[str, str]:
    """What a person does in the browser: open the provider's page, choose a user; the callback's query."""
    page = httpx.get(authorization_url)
    assert page.status_code == 200
    assert "Sign in" in page.text
    query = {key: values[0] for key, values in parse_qs(urlsplit(authorization_url).query).items()}
    answer = httpx.post(authorization_url.split("?")[0], data=query | {"user": user})
    assert answer.status_code == 302, answer.text
    target = answer.headers["location"]
    assert target.startswith(CALLBACK + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(target).query).items()}


class TestFlow:
    def test_login_token_use_refresh_logout(self, app: Any) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            login = web.get("/auth/login", params={"prompt": "select_account"}).json()
            assert set(login) == {"authorization_url", "state"}
            url = urlsplit(login["authorization_url"])
            params = parse_qs(url.query)
            assert params["code_challenge_method"] == ["S256"]
            assert params["redirect_uri"] == [CALLBACK]
            assert params["prompt"] == ["select_account"]
            callback = sign_in_at_provider(login["authorization_url"])
            assert callback["state"] == login["state"]
            tokens = web.post("/auth/token", json={"code": callback["code"], "state": callback["state"]})
            assert tokens.status_code == 200, tokens.text
            body = tokens.json()
            assert set(body) == {
                "access_token",
                "refresh_token",
                "id_token",
                "token_type",
                "expires_in",
                "scope",
            }
            assert body["token_type"] == "Bearer"
            assert isinstance(body["expires_in"], int)
            bearer = {"Authorization": f"Bearer {body['access_token']}"}
            assert web.get("/sessions", headers=bearer).status_code == 200
            admin = web.get("/admin/roles/", headers=bearer)
            assert admin.status_code == 200, admin.text  # ada holds the Admin JWT role
            found = web.get("/users/search", params={"q": "ada@"}, headers=bearer).json()["users"]
            assert [user["userId"] for user in found] == ["100000001"]  # the configured user-id claim
            refreshed = web.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["refresh_token"] != body["refresh_token"]
            new_bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
            assert web.get("/sessions", headers=new_bearer).status_code == 200
            logout = web.get(
                "/auth/logout",
                params={"post_logout_redirect_uri": "http://localhost:4200"},
                headers=new_bearer,
            ).json()
            assert logout["logout_url"].startswith(f"{app.settings.oidc_issuer}/logout?")
            assert httpx.get(logout["logout_url"]).headers["location"] == "http://localhost:4200"

    def test_sign_in_records_the_profile(self, app: Any) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            login = web.get("/auth/login").json()
            callback = sign_in_at_provider(login["authorization_url"], user="sam")
            web.post("/auth/token", json=callback | {"redirect_uri": CALLBACK}).raise_for_status()

        async def profile() -> Any:
            async with open_storage(app.storage_config()) as storage:
                return await storage.users.get("100000002")  # type: ignore[arg-type]

        found = asyncio.run(profile())
        assert (found.email, found.roles, found.email_domain) == ("sam@example.edu", ["Staff"], "example.edu")
        assert found.last_login_at is not None


class TestRefusals:
    def test_replayed_state(self, app: Any, check_error: ErrorCheck) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            login = web.get("/auth/login").json()
            callback = sign_in_at_provider(login["authorization_url"])
            web.post("/auth/token", json=callback).raise_for_status()
            again = check_error(web.post("/auth/token", json=callback), 400, "bad_request")
            assert again["field"] == "state"

    def test_expired_state(self, app: Any, check_error: ErrorCheck) -> None:
        expired = LoginState(
            state="x" * 40, code_verifier="v" * 64, nonce="n" * 24, redirect_uri=CALLBACK,
            created_at=utc_now() - timedelta(minutes=11), expires_at=utc_now() - timedelta(minutes=1),
        )  # fmt: skip

        async def store() -> None:
            async with open_storage(app.storage_config()) as storage:
                await storage.login_states.put(expired)

        asyncio.run(store())
        with httpx.Client(base_url=app.base_url) as web:
            refused = check_error(
                web.post("/auth/token", json={"code": "c", "state": expired.state}), 400, "bad_request"
            )
            assert refused["field"] == "state"

    def test_wrong_redirect_uri(self, app: Any, check_error: ErrorCheck) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            refused = check_error(
                web.get("/auth/login", params={"redirect_uri": "https://evil.example/cb"}), 400, "bad_request"
            )
            assert refused["field"] == "redirect_uri"
            login = web.get("/auth/login").json()
            callback = sign_in_at_provider(login["authorization_url"])
            other = callback | {"redirect_uri": "http://127.0.0.1:4200/auth/callback"}
            assert (
                check_error(web.post("/auth/token", json=other), 400, "bad_request")["field"]
                == "redirect_uri"
            )

    def test_tampered_code(self, app: Any, check_error: ErrorCheck) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            login = web.get("/auth/login").json()
            callback = sign_in_at_provider(login["authorization_url"])
            tampered = callback | {"code": callback["code"][:-2] + "xx"}
            refused = check_error(web.post("/auth/token", json=tampered), 400, "bad_request")
            assert refused["detail"] == {"providerError": "invalid_grant"}

    def test_refused_refresh_token_is_401(self, app: Any, check_error: ErrorCheck) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            check_error(web.post("/auth/refresh", json={"refresh_token": "not-one"}), 401, "unauthorized")

    def test_logout_to_a_foreign_origin_is_refused(self, app: Any, check_error: ErrorCheck) -> None:
        with httpx.Client(base_url=app.base_url) as web:
            check_error(
                web.get("/auth/logout", params={"post_logout_redirect_uri": "https://evil.example"}),
                400, "bad_request",
            )  # fmt: skip


class TestProviderDown:
    def test_sign_in_and_tokens_are_503_not_401(
        self, start_app: Callable[[Settings], AbstractContextManager[Any]], settings_for: Callable[..., Settings],
        tmp_path: Path, check_error: ErrorCheck,
    ) -> None:  # fmt: skip
        with PROVIDER.provider_process() as gone:
            token = None
            settings = settings_for(tmp_path, **oidc_overrides(gone))
            with start_app(settings) as live, httpx.Client(base_url=live.base_url) as web:
                login = web.get("/auth/login").json()
                callback = sign_in_at_provider(login["authorization_url"])
                token = web.post("/auth/token", json=callback).json()["access_token"]
        # The provider has stopped: a fresh service (no cached keys) must answer 503, never 401.
        with start_app(settings) as live, httpx.Client(base_url=live.base_url) as web:
            down = check_error(
                web.get("/sessions", headers={"Authorization": f"Bearer {token}"}), 503, "service_unavailable"
            )
            assert "identity provider" in down["message"]
            check_error(web.get("/auth/login"), 503, "service_unavailable")
            assert web.get("/auth/login").headers.get("retry-after")


class TestNotConfigured:
    def test_without_a_provider_sign_in_says_so(self, api: Any, check_error: ErrorCheck) -> None:
        web = api("anyone")
        refused = check_error(web.get("/auth/login"), 404, "not_found")
        assert "CHAT_OIDC_ISSUER" in refused["message"]
