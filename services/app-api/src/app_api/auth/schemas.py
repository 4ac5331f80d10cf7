"""HTTP shapes of `/auth/*` (the original's snake_case names, which the frontend reads)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoginRead", "LogoutRead", "TokenExchange", "TokenRead", "TokenRefresh"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRead(_Body):
    """`LoginResponse`: where to send the browser, and the state it will come back with."""

    authorization_url: str
    state: str


class TokenExchange(_Body):
    """`TokenExchangeRequest`: what the provider sent back to the frontend's callback page."""

    code: str = Field(min_length=1, max_length=4096)
    state: str = Field(min_length=1, max_length=128)
    redirect_uri: str | None = Field(default=None, max_length=2000)


class TokenRefresh(_Body):
    """`TokenRefreshRequest`."""

    refresh_token: str = Field(min_length=1, max_length=8192)


class TokenRead(_Body):
    """`TokenExchangeResponse` / `TokenRefreshResponse`: the access token is the bearer for both APIs."""

    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    token_type: str = "Bearer"
    expires_in: int
    scope: str = ""


class LogoutRead(_Body):
    """`LogoutResponse`: where to send the browser to end the provider's session."""

    logout_url: str
