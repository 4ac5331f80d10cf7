"""`GET /admin/oauth-providers/` (administrators).

Per-user OAuth connections (a tool calling a third party's API with the user's own account) are not
part of this platform, so no provider can be configured and the list is always empty. The admin tool
form reads it to offer "Required OAuth provider" choices; the other `/admin/oauth-providers` routes
and `/oauth/*` are not served (404).
"""

from __future__ import annotations

from fastapi import APIRouter

from app_api.dependencies import AdminUser
from app_api.oauth_providers.schemas import OAuthProviderPage
from chat_http.errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/admin/oauth-providers", tags=["admin"], responses=error_responses(403))


@router.get("/", response_model=OAuthProviderPage)
@router.get("", response_model=OAuthProviderPage, include_in_schema=False)
async def read_oauth_providers(admin: AdminUser) -> OAuthProviderPage:
    """Admin: the OAuth providers users can connect; none, since user connections are not supported."""
    return OAuthProviderPage(providers=[], total=0)
