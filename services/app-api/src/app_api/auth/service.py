"""The authorization code flow with PKCE (S256) against any provider found by issuer discovery.

`start_login` stores the state, the PKCE verifier and the nonce server-side for 10 minutes, so any
replica can finish a sign-in another one started; `finish_login` takes them (once: a replayed or
expired state is refused), exchanges the code at the provider, checks the ID token's nonce and the
access token as the APIs will, and records the user's profile. The provider being unreachable is a
503, never a 500 or a 401.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from app_api.auth.schemas import LoginRead, LogoutRead, TokenRead
from app_api.config import Settings
from chat_core.clock import utc_now
from chat_core.errors import AuthenticationError, BadRequestError, NotFoundError, UnavailableError
from chat_core.identity import LoginState
from chat_core.ports import LoginStateStore, UserRepository
from chat_http.auth import TokenVerifier
from chat_http.oidc import JwksCache, OidcProvider, ProviderMetadata

__all__ = ["SignIn", "finish_login", "logout_url", "refresh_tokens", "start_login"]

LOGIN_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SignIn:
    """The configured identity provider and this application's registration there."""

    provider: OidcProvider
    keys: JwksCache
    http: httpx.AsyncClient
    client_id: str
    client_secret: str | None
    scopes: str
    redirect_uris: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> SignIn | None:
        """`None` when sign-in is not configured (no issuer or client id)."""
        if not (settings.oidc_issuer and settings.oidc_client_id):
            return None
        provider = OidcProvider(settings.oidc_issuer, timeout=settings.oidc_timeout)
        return cls(
            provider=provider,
            keys=JwksCache(
                settings.oidc_jwks_url or provider,
                timeout=settings.oidc_timeout,
                min_refresh_seconds=settings.oidc_jwks_refresh_seconds,
            ),
            http=http,
            client_id=settings.oidc_client_id,
            client_secret=(
                settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
            ),
            scopes=settings.oidc_scopes,
            redirect_uris=tuple(settings.oidc_redirect_uris),
        )

    async def metadata(self) -> ProviderMetadata:
        """The provider's endpoints (discovery runs in a worker thread, cached)."""
        return await asyncio.to_thread(self.provider.metadata)


def _configured(sign_in: SignIn | None) -> SignIn:
    if sign_in is None:
        raise NotFoundError(
            "Sign-in with an identity provider is not configured (CHAT_OIDC_ISSUER, CHAT_OIDC_CLIENT_ID)."
        )
    return sign_in


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def start_login(
    sign_in: SignIn | None, states: LoginStateStore, *, redirect_uri: str | None, prompt: str | None
) -> LoginRead:
    """A provider URL to send the browser to, with a fresh state, PKCE challenge and nonce.

    Raises:
        BadRequestError: `redirect_uri` is not one of the configured ones (400).
        NotFoundError: sign-in is not configured (404).
        UnavailableError: the provider cannot be reached (503).
    """
    sign_in = _configured(sign_in)
    target = redirect_uri or sign_in.redirect_uris[0]
    if target not in sign_in.redirect_uris:
        raise BadRequestError("This redirect_uri is not allowed.", field="redirect_uri")
    metadata = await sign_in.metadata()
    now = utc_now()
    login = LoginState(
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),
        nonce=secrets.token_urlsafe(24),
        redirect_uri=target,
        created_at=now,
        expires_at=now + LOGIN_TTL,
    )
    await states.put(login)
    query: dict[str, str] = {
        "client_id": sign_in.client_id,
        "response_type": "code",
        "redirect_uri": target,
        "scope": sign_in.scopes,
        "state": login.state,
        "nonce": login.nonce,
        "code_challenge": _challenge(login.code_verifier),
        "code_challenge_method": "S256",
        "response_mode": "query",
    }
    if prompt:
        query["prompt"] = prompt
    return LoginRead(
        authorization_url=f"{metadata.authorization_endpoint}?{urlencode(query)}", state=login.state
    )


async def _token_request(sign_in: SignIn, form: dict[str, str]) -> dict[str, Any]:
    metadata = await sign_in.metadata()
    form = {"client_id": sign_in.client_id, **form}
    if sign_in.client_secret is not None:
        form["client_secret"] = sign_in.client_secret
    try:
        response = await sign_in.http.post(metadata.token_endpoint, data=form)
    except httpx.HTTPError as exc:
        raise UnavailableError("The identity provider cannot be reached.") from exc
    if response.status_code >= 500:
        raise UnavailableError(f"The identity provider answered {response.status_code}.")
    try:
        body = response.json()
    except ValueError as exc:
        raise UnavailableError("The identity provider's answer is not JSON.") from exc
    if (
        response.status_code != 200
        or not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
    ):
        error = body.get("error") if isinstance(body, dict) else None
        raise BadRequestError("The identity provider refused the request.", detail={"providerError": error})
    return body


def _token_read(body: dict[str, Any]) -> TokenRead:
    expires_in = body.get("expires_in", 3600)
    return TokenRead(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None,
        id_token=body.get("id_token") if isinstance(body.get("id_token"), str) else None,
        token_type=str(body.get("token_type", "Bearer")),
        expires_in=int(expires_in)
        if isinstance(expires_in, int | str) and str(expires_in).isdigit()
        else 3600,
        scope=str(body.get("scope", "")),
    )


async def _check_id_token(sign_in: SignIn, id_token: str | None, nonce: str) -> None:
    if id_token is None:
        raise BadRequestError("The identity provider sent no ID token.")
    metadata = await sign_in.metadata()
    import jwt  # with the first sign-in, not with the service (see chat_http.auth)

    try:
        kid = jwt.get_unverified_header(id_token).get("kid", "")
        key = await asyncio.to_thread(sign_in.keys.key, str(kid))
        claims = jwt.decode(
            id_token, key, algorithms=["RS256"], audience=sign_in.client_id, issuer=metadata.issuer, leeway=60
        )
    except jwt.InvalidTokenError as exc:
        raise BadRequestError("The identity provider's ID token could not be verified.") from exc
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise BadRequestError("The ID token does not belong to this sign-in (nonce).")


async def finish_login(
    sign_in: SignIn | None,
    states: LoginStateStore,
    users: UserRepository,
    verifier: TokenVerifier,
    *,
    code: str,
    state: str,
    redirect_uri: str | None,
) -> TokenRead:
    """Exchange the code for tokens, once per state; record the user's sign-in.

    Raises:
        BadRequestError: unknown, used or expired state; another redirect_uri; a code or ID token the
            provider or we refuse (400).
        UnavailableError: the provider cannot be reached (503).
    """
    sign_in = _configured(sign_in)
    login = await states.take(state, now=utc_now())
    if login is None:
        raise BadRequestError(
            "This sign-in is unknown, already used or expired; sign in again.", field="state"
        )
    if redirect_uri is not None and redirect_uri != login.redirect_uri:
        raise BadRequestError(
            "redirect_uri differs from the one the sign-in started with.", field="redirect_uri"
        )
    body = await _token_request(
        sign_in,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.code_verifier,
        },
    )
    tokens = _token_read(body)
    await _check_id_token(sign_in, tokens.id_token, login.nonce)
    try:
        user = await asyncio.to_thread(verifier.verify, tokens.access_token)
    except AuthenticationError as exc:
        raise BadRequestError(f"The provider's access token is not accepted here: {exc.message}") from exc
    await users.record_login(user, at=utc_now())
    return tokens


async def refresh_tokens(sign_in: SignIn | None, refresh_token: str) -> TokenRead:
    """New tokens for a refresh token; one the provider refuses is a 401 (the client signs in again)."""
    sign_in = _configured(sign_in)
    try:
        body = await _token_request(sign_in, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    except BadRequestError as exc:
        raise AuthenticationError("The session has expired; sign in again.") from exc
    return _token_read(body)


async def logout_url(sign_in: SignIn | None, post_logout_redirect_uri: str | None) -> LogoutRead:
    """The provider's end-session URL, returning to an allowed origin afterwards."""
    sign_in = _configured(sign_in)
    allowed = {f"{urlsplit(uri).scheme}://{urlsplit(uri).netloc}" for uri in sign_in.redirect_uris}
    target = post_logout_redirect_uri
    if target is not None and f"{urlsplit(target).scheme}://{urlsplit(target).netloc}" not in allowed:
        raise BadRequestError(
            "This post_logout_redirect_uri is not allowed.", field="post_logout_redirect_uri"
        )
    metadata = await sign_in.metadata()
    if metadata.end_session_endpoint is None:
        return LogoutRead(logout_url=target or "/")
    query = {"client_id": sign_in.client_id}
    if target:
        query["post_logout_redirect_uri"] = target
    return LogoutRead(logout_url=f"{metadata.end_session_endpoint}?{urlencode(query)}")
