"""Building the token verifier the settings ask for."""

from __future__ import annotations

from app_api.config import Settings
from chat_core.auth import DevTokenVerifier, OidcTokenVerifier, TokenVerifier
from chat_storage.secrets import load_or_create_secret

__all__ = ["DEV_SIGNING_KEY_FILE", "build_token_verifier", "dev_jwt_secret"]

DEV_SIGNING_KEY_FILE = "dev-jwt-secret"


def dev_jwt_secret(settings: Settings) -> str:
    """`CHAT_DEV_JWT_SECRET`, or the one generated into the data directory (shared by both services)."""
    if settings.dev_jwt_secret is not None:
        return settings.dev_jwt_secret.get_secret_value()
    return load_or_create_secret(settings.data_dir, DEV_SIGNING_KEY_FILE)


def build_token_verifier(settings: Settings) -> TokenVerifier:
    """Dev HS256 or OIDC, as configured (production never gets the dev verifier: see `Settings`)."""
    if settings.effective_auth_mode == "dev":
        return DevTokenVerifier(dev_jwt_secret(settings))
    # Settings refuses oidc mode without these three.
    assert settings.oidc_issuer
    assert settings.oidc_audience
    assert settings.oidc_jwks_url
    return OidcTokenVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        roles_claim=settings.oidc_roles_claim,
    )
