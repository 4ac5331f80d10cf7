"""HTTP shapes of `/admin/oauth-providers`, with the original's field names (`OAuthProvider`)."""

from __future__ import annotations

from datetime import datetime

from app_api.schemas import ApiModel

__all__ = ["OAuthProviderPage", "OAuthProviderRead"]


class OAuthProviderRead(ApiModel):
    """A provider users connect their own account to, so a tool can call its API for them."""

    provider_id: str
    display_name: str
    provider_type: str
    authorization_endpoint: str
    token_endpoint: str
    client_id: str
    scopes: list[str]
    allowed_roles: list[str]
    enabled: bool
    icon_name: str
    created_at: datetime
    updated_at: datetime


class OAuthProviderPage(ApiModel):
    """`OAuthProviderListResponse`."""

    providers: list[OAuthProviderRead]
    total: int
