"""Bearer-token verification: development HS256 tokens and OIDC (JWKS, RS256).

Every token's signature is verified; nothing here ever decodes a token without checking it. Failures
raise `AuthenticationError` with a message that says what is wrong without echoing the token.

PyJWT (and the `cryptography` it loads for RS256) is imported by the first verification, and
cachetools by the lifespan, not with the service: a fresh process answers its health checks without
them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chat_core.errors import AuthenticationError, InternalError, PermissionDeniedError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_http.oidc import JwksCache, OidcProvider
from chat_http.secrets import dev_jwt_secret
from chat_http.settings import ClaimNames, EdgeSettings

if TYPE_CHECKING:
    from cachetools import TLRUCache

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "ClaimNames",
    "DevTokenVerifier",
    "OidcTokenVerifier",
    "TokenVerifier",
    "VerifiedToken",
    "VerifiedTokens",
    "build_token_verifier",
    "mint_dev_token",
]

DEV_ISSUER = "chat-dev"
DEV_AUDIENCE = "chat-platform"
_MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that verified: its caller and its `exp` claim (seconds since the epoch)."""

    user: User
    expires_at: float


class TokenVerifier(Protocol):
    """Turns a bearer token into a verified `User`."""

    def verify(self, token: str) -> User:
        """Return the caller, or raise `AuthenticationError`."""
        ...

    def verify_token(self, token: str) -> VerifiedToken:
        """Return the caller and the token's expiry, or raise `AuthenticationError`."""
        ...


class VerifiedTokens:
    """Tokens that verified, by their exact text, each kept until it expires or for `ttl` seconds.

    A client sends the same token with every request until it expires; verifying its signature again
    each time was the largest cost of a small authenticated read. Only a token that passed every check
    (signature, expiry, issuer, audience, scope) is kept, and never past its own `exp`; `ttl` bounds
    how long a token signed by a key the provider has since withdrawn is still accepted. At most
    `maxsize` tokens are kept (least recently used first out). Used from the event loop only.
    """

    def __init__(
        self, ttl: float = 60.0, *, maxsize: int = 2048, clock: Callable[[], float] = time.time
    ) -> None:
        from cachetools import TLRUCache  # imported by the lifespan, not with the service (cold start)

        self._ttl = ttl
        self._tokens: TLRUCache[str, VerifiedToken] | None = (
            TLRUCache(maxsize, self._expiry, timer=clock) if ttl > 0 else None
        )

    def _expiry(self, _token: str, verified: VerifiedToken, now: float) -> float:
        return min(verified.expires_at, now + self._ttl)

    def get(self, token: str) -> User | None:
        """The caller of a token that verified and has not expired since, else `None`."""
        verified = self._tokens.get(token) if self._tokens is not None else None
        return verified.user if verified is not None else None

    def add(self, token: str, verified: VerifiedToken) -> None:
        """Keep a token that has just verified."""
        if self._tokens is not None:
            self._tokens[token] = verified


def _user_from_claims(claims: Mapping[str, Any], names: ClaimNames) -> User:
    subject = claims.get(names.user_id)
    if isinstance(subject, int) and not isinstance(subject, bool):
        subject = str(subject)
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError(f"The token has no {names.user_id!r} claim to identify the user.")
    roles = claims.get(names.roles, [])
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AuthenticationError(f"The token's {names.roles!r} claim must be a list of strings.")
    email = claims.get(names.email) or claims.get("preferred_username") or ""
    if not isinstance(email, str):
        raise AuthenticationError("The token's email claim must be a string.")
    name = claims.get(names.name, "")
    if not name and isinstance(claims.get("given_name"), str):
        name = " ".join(part for part in (claims.get("given_name"), claims.get("family_name")) if part)
    return User(
        user_id=UserId(subject),
        email=email.strip().lower(),
        name=name if isinstance(name, str) else "",
        roles=roles,
    )


def _decode(
    token: str, key: Any, *, algorithms: list[str], audience: str | list[str], issuer: str, leeway: int
) -> Any:
    import jwt

    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("The token has expired.") from exc
    except jwt.InvalidAudienceError as exc:
        raise AuthenticationError("The token is not meant for this service.") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthenticationError("The token was issued by an unknown issuer.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationError(f"The token lacks the {exc.claim!r} claim.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError("The token could not be verified.") from exc


class DevTokenVerifier:
    """HS256 tokens signed with a shared development secret. Refused in production by the services."""

    def __init__(
        self,
        secret: str,
        *,
        audience: str = DEV_AUDIENCE,
        roles_claim: str = "roles",
        claims: ClaimNames | None = None,
    ) -> None:
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise InternalError(f"The development JWT secret must be at least {_MIN_SECRET_BYTES} bytes.")
        self._secret = secret
        self._audience = audience
        self._claims = claims or ClaimNames(roles=roles_claim)

    def verify(self, token: str) -> User:
        """Verify signature, expiry, issuer and audience, then read the identity claims."""
        return self.verify_token(token).user

    def verify_token(self, token: str) -> VerifiedToken:
        """`verify`, with the token's expiry."""
        claims = _decode(
            token, self._secret, algorithms=["HS256"], audience=self._audience, issuer=DEV_ISSUER, leeway=0
        )
        return VerifiedToken(_user_from_claims(claims, self._claims), float(claims["exp"]))


class OidcTokenVerifier:
    """RS256 tokens from an OIDC provider, checked against its published keys (`chat_http.oidc`).

    An unreachable provider is `UnavailableError` (503), never a 401: a client answers 401 by dropping
    the user's tokens, which an outage of the identity provider must not cause.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Sequence[str],
        jwks_url: str | None = None,
        roles_claim: str = "roles",
        leeway: int = 60,
        jwks_timeout: float = 5.0,
        claims: ClaimNames | None = None,
        required_scope: str | None = None,
        jwks_refresh_seconds: float = 30.0,
        provider: OidcProvider | None = None,
    ) -> None:
        self._issuer = issuer
        self._audiences = (
            [part.strip() for part in audience.split(",") if part.strip()]
            if isinstance(audience, str)
            else list(audience)
        )
        self._claims = claims or ClaimNames(roles=roles_claim)
        self._leeway = leeway
        self._required_scope = required_scope
        self._provider = provider or OidcProvider(issuer, timeout=jwks_timeout)
        self._keys = JwksCache(
            jwks_url or self._provider,
            timeout=jwks_timeout,
            min_refresh_seconds=jwks_refresh_seconds,
        )

    def verify(self, token: str) -> User:
        """Find the signing key by `kid`, then verify signature, expiry, issuer, audience and scope.

        Blocks on a key fetch (see `verify_token`).
        """
        return self.verify_token(token).user

    def verify_token(self, token: str) -> VerifiedToken:
        """`verify`, with the token's expiry.

        Blocks on a key fetch (the services call it in a worker thread).

        Raises:
            AuthenticationError: a token that does not verify (401).
            PermissionDeniedError: a valid token without the required scope (403).
            UnavailableError: the provider's keys cannot be fetched (503).
        """
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("The token could not be verified.") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("The token names no signing key.")
        key = self._keys.key(kid)
        claims = _decode(
            token,
            key,
            algorithms=["RS256"],
            audience=self._audiences,
            issuer=self._issuer,
            leeway=self._leeway,
        )
        if self._required_scope is not None and self._required_scope not in _scopes(claims):
            raise PermissionDeniedError(f"The token does not grant the scope {self._required_scope!r}.")
        return VerifiedToken(_user_from_claims(claims, self._claims), float(claims["exp"]))


def _scopes(claims: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for name in ("scp", "scope"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return found


def mint_dev_token(
    secret: str,
    *,
    user_id: str,
    email: str,
    name: str = "",
    roles: list[str] | None = None,
    expires_in: int = 12 * 3600,
    audience: str = DEV_AUDIENCE,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A development token for `make dev`, demos and tests. Never accepted in production.

    `extra_claims` adds (or overrides) claims, e.g. the employee-number claim the original frontend
    requires (see the README, "Running the existing frontend").
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "email": email,
        "name": name,
        "roles": roles or [],
        "iss": DEV_ISSUER,
        "aud": audience,
        "iat": now,
        "exp": now + expires_in,
    }
    claims.update(extra_claims or {})
    import jwt

    return jwt.encode(claims, secret, algorithm="HS256")


def build_token_verifier(settings: EdgeSettings) -> TokenVerifier:
    """Dev HS256 or OIDC, as configured (production never gets the dev verifier: see `EdgeSettings`)."""
    claims = settings.claim_names()
    if settings.effective_auth_mode == "dev":
        return DevTokenVerifier(dev_jwt_secret(settings), claims=claims)
    # EdgeSettings refuses oidc mode without an issuer and an audience.
    assert settings.oidc_issuer
    assert settings.oidc_audience
    return OidcTokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        claims=claims,
        required_scope=settings.oidc_required_scope,
        jwks_timeout=settings.oidc_timeout,
        jwks_refresh_seconds=settings.oidc_jwks_refresh_seconds,
        provider=OidcProvider(settings.oidc_issuer, timeout=settings.oidc_timeout),
    )
