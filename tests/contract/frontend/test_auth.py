"""Sign-in as the client does it, against a real OpenID provider process: `FE/auth/auth.service.ts`
(login, refresh, logout), `FE/auth/callback/callback.service.ts` (token exchange),
`FE/auth/user.service.ts` (the claims it decodes from the access token), and the access token then used
as the bearer on both services (FE = `frontend/ai.client/src/app`).

Both services run in OIDC mode per backend, with the development provider of `scripts/oidc_provider.py`
(`make oidc`) on a free port: the browser's part (the provider's page, choosing a user, the redirect to
`/auth/callback`) is done over HTTP as the browser would.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from frontend_kit import (
    EMPLOYEE_NUMBER_CLAIM,
    INTEGER,
    NUMBER,
    STRING,
    array,
    check,
    free_socket,
    obj,
    read_events,
    serve_app,
)

ORIGIN = "http://localhost:4200"
CALLBACK = f"{ORIGIN}/auth/callback"

# FE/auth/auth.service.ts: LoginResponse, TokenRefreshResponse, LogoutResponse
LOGIN_RESPONSE = obj({"authorization_url": STRING, "state": STRING})
TOKEN_RESPONSE = obj(
    {
        "access_token": STRING,
        "refresh_token": STRING,
        "token_type": STRING,
        "expires_in": NUMBER,
        "scope": STRING,
    },
    {"id_token": STRING},
)  # also FE/auth/callback/callback.service.ts: TokenExchangeResponse
LOGOUT_RESPONSE = obj({"logout_url": STRING})
# FE/services/error/error.service.ts reads `error.message` (a string) for the toast
ERROR_BODY = obj({"error": obj({"code": STRING, "message": STRING})})
# FE/auth/user.service.ts: the claims it requires (a user is null without them)
CLAIMS = obj(
    {
        "email": STRING,
        EMPLOYEE_NUMBER_CLAIM: {"type": "string", "pattern": r"^\d{9}$"},
        "roles": array(STRING),
    },
    {"name": STRING, "given_name": STRING, "family_name": STRING, "exp": INTEGER},
)


def _provider_module() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "scripts" / "oidc_provider.py"
    spec = importlib.util.spec_from_file_location("oidc_provider_for_contract", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


PROVIDER = _provider_module()


def _oidc_settings(provider: Any, data_dir: Path, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "data_dir": data_dir,
        "auth_mode": "oidc",
        "oidc_issuer": provider.issuer,
        "oidc_audience": f"{provider.config.audience},{provider.config.client_id}",
        "oidc_client_id": provider.config.client_id,
        "oidc_client_secret": provider.config.client_secret,
        "oidc_required_scope": "Read",
        "oidc_user_id_claim": EMPLOYEE_NUMBER_CLAIM,
        "oidc_redirect_uris": [CALLBACK],
        "admin_roles": frozenset({"Admin"}),
        "system_admin_roles": frozenset({"Admin"}),
        "log_json": False,
    } | extra


@dataclass(frozen=True)
class SignInStack:
    """Both services in OIDC mode and the provider they trust."""

    app_url: str
    inference_url: str
    provider: Any


@contextmanager
def _run(provider: Any, data_dir: Path, extra: dict[str, Any]) -> Iterator[SignInStack]:
    from app_api.config import Settings as AppSettings
    from app_api.main import create_app as create_app_api
    from app_api.seed import seed_storage
    from inference_api.config import Settings as InferenceSettings
    from inference_api.main import create_app as create_inference_api

    shared = _oidc_settings(provider, data_dir, extra)
    app_settings = AppSettings(_env_file=None, **shared)
    asyncio.run(seed_storage(app_settings, provision=shared.get("storage") == "aws"))
    with (
        serve_app(create_app_api(app_settings), free_socket()) as app_url,
        serve_app(
            create_inference_api(InferenceSettings(_env_file=None, **shared)), free_socket()
        ) as inference_url,
    ):
        yield SignInStack(app_url, inference_url, provider)


@pytest.fixture(scope="module")
def provider() -> Iterator[Any]:
    with PROVIDER.provider_process(PROVIDER.ProviderConfig(client_secret="contract-secret")) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", pytest.param("aws", marks=pytest.mark.aws)])
def signin(
    request: pytest.FixtureRequest, provider: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SignInStack]:
    extra: dict[str, Any] = {}
    if request.param == "aws":
        extra = {
            "storage": "aws",
            "aws_endpoint_url": request.getfixturevalue("moto_endpoint"),
            "resource_prefix": f"fa{uuid.uuid4().hex[:8]}",
            "aws_connect_timeout": 2.0,
            "aws_max_attempts": 2,
        }
    with _run(provider, tmp_path_factory.mktemp(f"signin-{request.param}"), extra) as stack:
        yield stack


def choose_user(authorization_url: str, user: str) -> dict[str, str]:
    """The browser's part: the provider's page, a user chosen, the redirect to the callback route."""
    page = httpx.get(authorization_url)
    assert page.status_code == 200
    fields = {key: values[0] for key, values in parse_qs(urlsplit(authorization_url).query).items()}
    answer = httpx.post(authorization_url.split("?")[0], data=fields | {"user": user})
    assert answer.status_code == 302, answer.text
    target = answer.headers["location"]
    assert target.startswith(f"{CALLBACK}?")
    return {key: values[0] for key, values in parse_qs(urlsplit(target).query).items()}


def decoded_claims(token: str) -> dict[str, Any]:
    """What `user.service.ts` does: base64url-decode the payload, no signature check."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def sign_in(web: httpx.Client, user: str = "ada") -> dict[str, Any]:
    """The login page, the provider, the callback page: the stored tokens."""
    login = web.get("/auth/login", params={"prompt": "select_account"})
    assert login.status_code == 200, login.text
    check(login.json(), LOGIN_RESPONSE)
    callback = choose_user(login.json()["authorization_url"], user)
    assert callback["state"] == login.json()["state"]  # the callback page compares it with sessionStorage
    tokens = web.post("/auth/token", json={"code": callback["code"], "state": callback["state"]})
    assert tokens.status_code == 200, tokens.text
    check(tokens.json(), TOKEN_RESPONSE)
    body: dict[str, Any] = tokens.json()
    return body


class TestSignIn:
    def test_login_callback_and_the_token_on_both_services(self, signin: SignInStack) -> None:
        with httpx.Client(base_url=signin.app_url, headers={"Origin": ORIGIN}) as web:
            login = web.get("/auth/login", params={"prompt": "select_account"})
            assert login.headers["access-control-allow-origin"] == ORIGIN
            url = urlsplit(login.json()["authorization_url"])
            assert f"{url.scheme}://{url.netloc}" == signin.provider.issuer
            assert parse_qs(url.query)["redirect_uri"] == [CALLBACK]
            preflight = web.options(
                "/auth/token",
                headers={
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == ORIGIN
            tokens = sign_in(web)
            claims = decoded_claims(tokens["access_token"])
            check(claims, CLAIMS)
            assert "Admin" in claims["roles"]  # the admin guard's role
            assert tokens["expires_in"] > 60  # the client treats a token as expired 60 s early
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert web.get("/sessions", headers=bearer).status_code == 200
            assert web.get("/admin/roles/", headers=bearer).status_code == 200
            me = web.get("/users/me", headers=bearer).json()
            assert me["profile"]["userId"] == claims[EMPLOYEE_NUMBER_CLAIM]  # the configured user-id claim
        body = {"message": "What is 2 + 3?", "session_id": str(uuid.uuid4()), "model_id": "offline-extractive",
                "enabled_tools": ["calculator"], "provider": "offline"}  # fmt: skip
        headers = bearer | {"Content-Type": "application/json", "Accept": "text/event-stream"}
        with httpx.stream(
            "POST",
            f"{signin.inference_url}/invocations?qualifier=DEFAULT",
            content=json.dumps(body),
            headers=headers,
        ) as turn:
            assert turn.status_code == 200, turn.read()
            assert read_events(turn.iter_lines())[-1].event == "done"

    def test_refresh_then_logout(self, signin: SignInStack) -> None:
        with httpx.Client(base_url=signin.app_url) as web:
            tokens = sign_in(web, "sam")
            refreshed = web.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            check(refreshed.json(), TOKEN_RESPONSE)
            bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
            assert web.get("/sessions", headers=bearer).status_code == 200
            logout = web.get("/auth/logout", params={"post_logout_redirect_uri": ORIGIN}, headers=bearer)
            assert logout.status_code == 200, logout.text
            check(logout.json(), LOGOUT_RESPONSE)
            assert httpx.get(logout.json()["logout_url"]).headers["location"] == ORIGIN

    def test_a_staff_member_is_no_administrator(self, signin: SignInStack) -> None:
        with httpx.Client(base_url=signin.app_url) as web:
            tokens = sign_in(web, "sam")
            assert "Admin" not in decoded_claims(tokens["access_token"])["roles"]
            refused = web.get("/admin/roles/", headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert refused.status_code == 403
            check(refused.json(), ERROR_BODY)


class TestWhatTheClientHandles:
    def test_a_spent_refresh_token_is_a_401_so_the_client_signs_out(self, signin: SignInStack) -> None:
        with httpx.Client(base_url=signin.app_url) as web:
            tokens = sign_in(web)
            assert (
                web.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
            )
            spent = web.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
            assert spent.status_code == 401
            check(spent.json(), ERROR_BODY)

    def test_a_replayed_callback_is_a_400_with_a_message(self, signin: SignInStack) -> None:
        with httpx.Client(base_url=signin.app_url) as web:
            login = web.get("/auth/login", params={"prompt": "select_account"}).json()
            callback = choose_user(login["authorization_url"], "ada")
            assert web.post("/auth/token", json=callback).status_code == 200
            again = web.post("/auth/token", json=callback)
            assert again.status_code == 400
            check(again.json(), ERROR_BODY)

    def test_a_request_without_a_token_is_a_401(self, signin: SignInStack) -> None:
        refused = httpx.get(f"{signin.app_url}/sessions")
        assert refused.status_code == 401
        check(refused.json(), ERROR_BODY)


def test_provider_unreachable_is_a_503_not_a_401(tmp_path: Path) -> None:
    """A 401 makes the client drop the user's tokens; an identity provider outage must not."""
    with (
        PROVIDER.provider_process() as gone,
        _run(gone, tmp_path, {}) as stack,
        httpx.Client(base_url=stack.app_url) as web,
    ):
        token = sign_in(web)["access_token"]
    with _run(gone, tmp_path, {}) as fresh:  # no signing keys cached, the provider stopped
        bearer = {"Authorization": f"Bearer {token}"}
        for url in (f"{fresh.app_url}/sessions", f"{fresh.app_url}/auth/login"):
            down = httpx.get(url, headers=bearer)
            assert down.status_code == 503, (url, down.text)
            check(down.json(), ERROR_BODY)
            assert down.headers.get("retry-after")
        body = {"message": "Hi", "session_id": str(uuid.uuid4()), "model_id": None, "enabled_tools": [],
                "provider": None}  # fmt: skip
        turn = httpx.post(f"{fresh.inference_url}/invocations?qualifier=DEFAULT", json=body, headers=bearer)
        assert turn.status_code == 503
        assert re.search(r"identity provider", turn.json()["error"]["message"])
