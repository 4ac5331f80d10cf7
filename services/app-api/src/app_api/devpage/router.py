"""`GET /dev` (the page), `GET /dev/app.js` and `POST /dev/token` (sign-in as a demo user).

None of these routes is part of the API's contract: they are left out of the OpenAPI document and are
only mounted in development. The token route signs development tokens with the same secret as
`app-api dev-token`, so it refuses to work unless the service itself accepts development tokens.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from pydantic import Field

from app_api.config import Environment, Settings
from app_api.dependencies import SettingsDep
from app_api.schemas import ApiModel
from chat_core.errors import PermissionDeniedError
from chat_http.auth import mint_dev_token
from chat_http.secrets import dev_jwt_secret

__all__ = ["DevSignIn", "DevToken", "install_devpage", "router"]

_TOKEN_LIFETIME = 12 * 3600
_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {
    **_NO_STORE,
    # The page holds a bearer token: no other site may frame it (clickjacking).
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}

router = APIRouter(prefix="/dev", tags=["dev"], include_in_schema=False)


class DevSignIn(ApiModel):
    """Who to sign in as: any user id, with any roles (development only)."""

    user_id: str = Field(default="alice", pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    roles: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=10)


class DevToken(ApiModel):
    """A development bearer token and the identity it carries."""

    token: str
    user_id: str
    email: str
    name: str
    roles: list[str]
    expires_in: int


@cache
def _asset(name: str) -> str:
    return (files(__package__) / name).read_text(encoding="utf-8")


@router.get("", response_class=HTMLResponse)
async def read_page() -> HTMLResponse:
    """The page itself."""
    return HTMLResponse(_asset("index.html"), headers=_PAGE_HEADERS)


@router.get("/app.js")
async def read_script() -> Response:
    """The page's script."""
    return Response(_asset("app.js"), media_type="text/javascript", headers=_NO_STORE)


@router.post("/token", response_model=DevToken)
async def create_token(body: DevSignIn, settings: SettingsDep) -> DevToken:
    """Mint a development token, as `app-api dev-token` does; refused unless development auth is on."""
    if settings.env is not Environment.DEVELOPMENT or settings.effective_auth_mode != "dev":
        raise PermissionDeniedError("Demo sign-in needs CHAT_ENV=development and development tokens.")
    roles = list(dict.fromkeys(role.strip() for role in body.roles if role.strip()))
    email = f"{body.user_id}@example.com" if "@" not in body.user_id else body.user_id
    name = body.user_id.split("@")[0].capitalize()
    token = mint_dev_token(
        dev_jwt_secret(settings),
        user_id=body.user_id,
        email=email,
        name=name,
        roles=roles,
        expires_in=_TOKEN_LIFETIME,
    )
    return DevToken(
        token=token, user_id=body.user_id, email=email, name=name, roles=roles, expires_in=_TOKEN_LIFETIME
    )


def install_devpage(app: FastAPI, settings: Settings) -> None:
    """Mount the page on `app` in development; in production nothing is added (`/dev` is 404)."""
    if settings.env is Environment.DEVELOPMENT:
        app.include_router(router)
