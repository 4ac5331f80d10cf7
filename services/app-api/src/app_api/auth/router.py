"""`/auth/*`: public routes the frontend's sign-in pages call (no bearer token needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app_api.auth import service
from app_api.auth.schemas import LoginRead, LogoutRead, TokenExchange, TokenRead, TokenRefresh
from app_api.auth.service import SignIn
from app_api.dependencies import StateDep, StorageDep
from chat_http.errors import error_responses

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(400, 404))


async def _sign_in(state: StateDep) -> SignIn | None:
    return state.sign_in


SignInDep = Annotated[SignIn | None, Depends(_sign_in)]


@router.get("/login", response_model=LoginRead)
async def start_login(
    sign_in: SignInDep,
    storage: StorageDep,
    redirect_uri: Annotated[str | None, Query(max_length=2000)] = None,
    prompt: Annotated[str | None, Query(pattern=r"^(none|login|consent|select_account)$")] = None,
) -> LoginRead:
    """Start a sign-in: the provider URL to open, and its state."""
    return await service.start_login(sign_in, storage.login_states, redirect_uri=redirect_uri, prompt=prompt)


@router.post("/token", response_model=TokenRead)
async def exchange_code(body: TokenExchange, sign_in: SignInDep, state: StateDep) -> TokenRead:
    """Finish a sign-in: the code and state from the callback, for tokens."""
    return await service.finish_login(
        sign_in,
        state.storage.login_states,
        state.storage.users,
        state.verifier,
        code=body.code,
        state=body.state,
        redirect_uri=body.redirect_uri,
    )


@router.post("/refresh", response_model=TokenRead, responses=error_responses(401))
async def refresh_tokens(body: TokenRefresh, sign_in: SignInDep) -> TokenRead:
    """New tokens for a refresh token."""
    return await service.refresh_tokens(sign_in, body.refresh_token)


@router.get("/logout", response_model=LogoutRead)
async def logout(
    sign_in: SignInDep,
    post_logout_redirect_uri: Annotated[str | None, Query(max_length=2000)] = None,
) -> LogoutRead:
    """Where to send the browser to end the provider's session."""
    return await service.logout_url(sign_in, post_logout_redirect_uri)
