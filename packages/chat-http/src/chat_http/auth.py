"""Bearer-token verification: development HS256 tokens and OIDC (JWKS, RS256).

Every token's signature is verified; nothing here ever decodes a token without checking it. Failures
raise `AuthenticationError` with a message that says what is wrong without echoing the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import jwt

from chat_core.errors import AuthenticationError, InternalError
from chat_core.identity import User
from chat_core.ids import UserId
from chat_http.secrets import dev_jwt_secret
from chat_http.settings import EdgeSettings

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "DevTokenVerifier",
    "OidcTokenVerifier",
    "TokenVerifier",
    "build_token_verifier",
    "mint_dev_token",
]

DEV_ISSUER = "chat-dev"
DEV_AUDIENCE = "chat-platform"
_MIN_SECRET_BYTES = 32


class TokenVerifier(Protocol):
    """Turns a bearer token into a verified `User`."""

    def verify(self, token: str) -> User:
        """Return the caller, or raise `AuthenticationError`."""
        ...


def _user_from_claims(claims: Mapping[str, Any], roles_claim: str) -> User:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("The token has no subject.")
    roles = claims.get(roles_claim, [])
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AuthenticationError(f"The token's {roles_claim!r} claim must be a list of strings.")
    email = claims.get("email") or claims.get("preferred_username") or ""
    if not isinstance(email, str):
        raise AuthenticationError("The token's email claim must be a string.")
    name = claims.get("name", "")
    return User(
        user_id=UserId(subject),
        email=email.strip().lower(),
        name=name if isinstance(name, str) else "",
        roles=roles,
    )


def _decode(token: str, key: Any, *, algorithms: list[str], audience: str, issuer: str, leeway: int) -> Any:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "sub", "iss", "aud"]},
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

    def __init__(self, secret: str, *, audience: str = DEV_AUDIENCE, roles_claim: str = "roles") -> None:
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise InternalError(f"The development JWT secret must be at least {_MIN_SECRET_BYTES} bytes.")
        self._secret = secret
        self._audience = audience
        self._roles_claim = roles_claim

    def verify(self, token: str) -> User:
        """Verify signature, expiry, issuer and audience, then read the identity claims."""
        claims = _decode(
            token, self._secret, algorithms=["HS256"], audience=self._audience, issuer=DEV_ISSUER, leeway=0
        )
        return _user_from_claims(claims, self._roles_claim)


class OidcTokenVerifier:
    """RS256 tokens from an OIDC provider, keys fetched from its JWKS URL and cached."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        roles_claim: str = "roles",
        leeway: int = 60,
        jwks_timeout: float = 5.0,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._leeway = leeway
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=int(jwks_timeout))

    def verify(self, token: str) -> User:
        """Find the signing key by `kid`, then verify as for development tokens. Blocks on a JWKS fetch."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthenticationError("The identity provider's keys could not be fetched.") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthenticationError("The token was signed with an unknown key.") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("The token could not be verified.") from exc
        claims = _decode(
            token,
            key,
            algorithms=["RS256"],
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
        )
        return _user_from_claims(claims, self._roles_claim)


def mint_dev_token(
    secret: str,
    *,
    user_id: str,
    email: str,
    name: str = "",
    roles: list[str] | None = None,
    expires_in: int = 12 * 3600,
    audience: str = DEV_AUDIENCE,
) -> str:
    """A development token for `make dev`, demos and tests. Never accepted in production."""
    now = int(time.time())
    claims = {
        "sub": user_id,
        "email": email,
        "name": name,
        "roles": roles or [],
        "iss": DEV_ISSUER,
        "aud": audience,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def build_token_verifier(settings: EdgeSettings) -> TokenVerifier:
    """Dev HS256 or OIDC, as configured (production never gets the dev verifier: see `EdgeSettings`)."""
    if settings.effective_auth_mode == "dev":
        return DevTokenVerifier(dev_jwt_secret(settings))
    # EdgeSettings refuses oidc mode without these three.
    assert settings.oidc_issuer
    assert settings.oidc_audience
    assert settings.oidc_jwks_url
    return OidcTokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        roles_claim=settings.oidc_roles_claim,
    )
