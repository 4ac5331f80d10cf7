"""A small OpenID Connect provider for development and tests (`make oidc`), on 127.0.0.1.

It speaks the protocol the services use with a real identity provider: discovery, the authorization
code flow with PKCE (S256, required) and nonce, client authentication, refresh-token rotation, signing
keys (RS256) and RP-initiated logout. Access tokens are JWTs for the API (audience and scope as
configured, the user's claims included, as Entra ID issues them), so the web frontend can read its
claims. Users are chosen on a sign-in page (or by posting `user=<sub>` to the authorization endpoint).

Run: `python scripts/oidc_provider.py --port 9400` (see the README, "Signing in with an identity provider").
Tests run it as a process of its own with `provider_process()` (`--port 0`: the first line it prints
names the port it was given).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import secrets
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

EMPLOYEE_NUMBER = "http://schemas.boisestate.edu/claims/employeenumber"

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "ada": {"email": "ada@example.edu", "name": "Ada Admin", "given_name": "Ada", "family_name": "Admin",
            "roles": ["Admin", "admin"], EMPLOYEE_NUMBER: "100000001"},
    "sam": {"email": "sam@example.edu", "name": "Sam Staff", "given_name": "Sam", "family_name": "Staff",
            "roles": ["Staff"], EMPLOYEE_NUMBER: "100000002"},
}  # fmt: skip
"""Who can sign in when no users are given: an administrator and a member of staff."""


@dataclass
class ProviderConfig:
    """What the provider accepts and issues."""

    client_id: str = "chat-web"
    client_secret: str | None = None
    """`None`: a public client (PKCE only); otherwise required at the token endpoint."""
    audience: str = "api://chat-web"
    api_scope: str = "Read"
    """Granted in every access token's `scp` claim."""
    token_seconds: int = 3600
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_USERS))


@dataclass
class _Grant:
    sub: str
    redirect_uri: str
    challenge: str
    nonce: str
    scope: str
    expires: float


class OidcProvider:
    """The provider's state (keys, codes, refresh tokens) and its ASGI app."""

    def __init__(self, config: ProviderConfig | None = None) -> None:
        self.config = config or ProviderConfig()
        self.issuer = ""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
                Route("/logout", self._logout),
            ]
        )

    def rotate_key(self) -> None:
        """Sign with a new key from now on (the old one is no longer published)."""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)

    def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "end_session_endpoint": f"{self.issuer}/logout",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                    "none",
                ],
            }
        )

    def _jwks(self, request: Request) -> Response:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return JSONResponse({"keys": [public | {"kid": self._kid, "use": "sig", "alg": "RS256"}]})

    async def _authorize(self, request: Request) -> Response:
        params: Mapping[str, str] = request.query_params
        if request.method == "POST":
            params = {key: str(value) for key, value in (await request.form()).items()}
        problem = None
        if params.get("client_id") != self.config.client_id:
            problem = "unknown client_id"
        elif params.get("response_type") != "code":
            problem = "response_type must be code"
        elif params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problem = "PKCE with S256 is required"
        elif not params.get("redirect_uri") or not params.get("nonce") or not params.get("state"):
            problem = "redirect_uri, state and nonce are required"
        if problem:
            return HTMLResponse(f"<h1>Invalid request</h1><p>{html.escape(problem)}</p>", status_code=400)
        if request.method == "GET":
            return HTMLResponse(self._sign_in_page(params))
        sub = params.get("user", "")
        if sub not in self.config.users:
            return HTMLResponse("<h1>Unknown user</h1>", status_code=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Grant(
                sub=sub,
                redirect_uri=params["redirect_uri"],
                challenge=params["code_challenge"],
                nonce=params["nonce"],
                scope=params.get("scope", "openid"),
                expires=time.time() + 120,
            )
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _sign_in_page(self, params: Mapping[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
            for key, value in params.items()
        )
        buttons = "".join(
            f'<button name="user" value="{html.escape(sub)}">{html.escape(str(claims.get("name", sub)))}'
            f" <small>({html.escape(', '.join(claims.get('roles', [])) or 'no roles')})</small></button>"
            for sub, claims in self.config.users.items()
        )
        return (
            "<!doctype html><title>Development identity provider</title>"
            "<style>body{font-family:sans-serif;max-width:30em;margin:4em auto}button{display:block;"
            "width:100%;margin:.5em 0;padding:.8em;font-size:1em}</style>"
            "<h1>Sign in</h1><p>Development identity provider: choose who you are.</p>"
            f'<form method="post" action="/authorize">{hidden}{buttons}</form>'
        )

    def _client_ok(self, request: Request, form: Mapping[str, Any]) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if client_id != self.config.client_id:
            return False
        return self.config.client_secret is None or secrets.compare_digest(
            str(secret or ""), self.config.client_secret
        )

    def _tokens(self, sub: str, scope: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        claims = self.config.users[sub]
        access = {"iss": self.issuer, "sub": sub, "aud": self.config.audience, "iat": now,
                  "exp": now + self.config.token_seconds, "scp": self.config.api_scope, **claims}  # fmt: skip
        identity = {"iss": self.issuer, "sub": sub, "aud": self.config.client_id, "iat": now,
                    "exp": now + self.config.token_seconds, **claims}  # fmt: skip
        if nonce:
            identity["nonce"] = nonce
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[refresh] = (sub, scope)
        headers = {"kid": self._kid}
        return {
            "access_token": jwt.encode(access, self._key, algorithm="RS256", headers=headers),
            "id_token": jwt.encode(identity, self._key, algorithm="RS256", headers=headers),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.config.token_seconds,
            "scope": scope,
        }

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") == "authorization_code":
            with self._lock:
                grant = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if (
                grant is None
                or grant.expires < time.time()
                or grant.redirect_uri != form.get("redirect_uri")
                or not secrets.compare_digest(challenge.decode(), grant.challenge)
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(self._tokens(grant.sub, grant.scope, grant.nonce))
        if form.get("grant_type") == "refresh_token":
            with self._lock:
                found = self._refresh.pop(form.get("refresh_token", ""), None)
            if found is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(self._tokens(found[0], found[1], None))
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def _logout(self, request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri")
        if target:
            return RedirectResponse(target, status_code=302)
        return HTMLResponse("<h1>Signed out</h1>")


@contextmanager
def serve_provider(
    config: ProviderConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[OidcProvider]:
    """Run a provider on `host` (a free port by default) in a thread; `provider.issuer` is its URL."""
    provider = OidcProvider(config)
    server = uvicorn.Server(
        uvicorn.Config(provider.app, host=host, port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the identity provider did not start")
        time.sleep(0.01)
    provider.issuer = f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class ProviderProcess:
    """A provider running as a process of its own: its URL and what it was told to accept."""

    issuer: str
    config: ProviderConfig
    process: subprocess.Popen[str]


_READY = re.compile(r"^Development identity provider at (http://\S+) ")


@contextmanager
def provider_process(
    config: ProviderConfig | None = None, *, timeout: float = 30
) -> Iterator[ProviderProcess]:
    """Start this script as a process of its own on a free port; stop it on exit.

    The process knows the default users and `config`'s client; its issuer is read from the first
    line it prints.
    """
    config = config or ProviderConfig()
    command = [sys.executable, __file__, "--port", "0", "--client-id", config.client_id]
    if config.client_secret is not None:
        command += ["--client-secret", config.client_secret]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stdout, selectors.EVENT_READ)
            if not waiting.select(timeout):
                raise RuntimeError(f"the identity provider printed nothing within {timeout} s")
        first = process.stdout.readline()
        found = _READY.match(first)
        if found is None:
            raise RuntimeError(f"the identity provider did not start (exit {process.poll()}): {first!r}")
        yield ProviderProcess(found.group(1), config, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def main() -> None:
    """`make oidc`: serve until Ctrl-C (or SIGTERM) and print how to point the services at it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9400, help="0: a free port (printed)")
    parser.add_argument("--client-id", default="chat-web")
    parser.add_argument("--client-secret", default=None, help="default: a public client (PKCE only)")
    args = parser.parse_args()
    config = ProviderConfig(
        client_id=args.client_id, client_secret=args.client_secret, audience=f"api://{args.client_id}"
    )
    with serve_provider(config, port=args.port) as provider:
        print(
            f"Development identity provider at {provider.issuer} (users: {', '.join(config.users)}).",
            flush=True,
        )
        print("Start the services against it, in another terminal:")
        print(
            f"  CHAT_AUTH_MODE=oidc CHAT_OIDC_ISSUER={provider.issuer} CHAT_OIDC_CLIENT_ID={config.client_id} \\\n"
            + (f"  CHAT_OIDC_CLIENT_SECRET={config.client_secret} \\\n" if config.client_secret else "")
            + f"  CHAT_OIDC_AUDIENCE={config.audience} CHAT_OIDC_REQUIRED_SCOPE={config.api_scope} \\\n"
            f"  CHAT_OIDC_USER_ID_CLAIM={EMPLOYEE_NUMBER} CHAT_ADMIN_ROLES=Admin,admin \\\n"
            "  CHAT_SYSTEM_ADMIN_ROLES=Admin,admin make dev",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
