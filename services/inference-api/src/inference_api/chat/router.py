"""`POST /invocations`: a chat turn streamed as Server-Sent Events (AgentCore Runtime contract)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from sse_starlette import EventSourceResponse

from chat_http.dependencies import CurrentPermissions, OfferedTools, TurnRateLimit
from chat_http.errors import ErrorBody
from inference_api.chat import service
from inference_api.chat.access import TurnAccess
from inference_api.chat.schemas import InvocationRequest
from inference_api.dependencies import CurrentUser, StateDep

__all__ = ["router"]


async def _chat_services(state: StateDep) -> service.ChatServices:
    return state.chat


async def _turn_access(permissions: CurrentPermissions, offered: OfferedTools) -> TurnAccess:
    return TurnAccess(permissions=permissions, offered=offered)


ChatServicesDep = Annotated[service.ChatServices, Depends(_chat_services)]
TurnAccessDep = Annotated[TurnAccess, Depends(_turn_access)]

router = APIRouter(tags=["chat"])


@router.post(
    "/invocations",
    summary="Stream a chat turn",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The turn's events (see STREAMING.md)"},
        400: {"model": ErrorBody, "description": "Assistant change within a session"},
        403: {"model": ErrorBody, "description": "Model or tool not allowed by the caller's AppRoles"},
        404: {"model": ErrorBody, "description": "Unknown model, assistant, upload or session"},
        409: {"model": ErrorBody, "description": "An attached upload is not ready"},
        429: {
            "model": ErrorBody,
            "description": "Spend quota (`quota_exceeded`) or turn rate (`rate_limit_exceeded`) reached, "
            "or the model provider is throttling; `Retry-After` says when to try again. A client that "
            "accepts `text/event-stream` gets a spend-quota refusal as a 200 stream instead: the reason "
            "as an assistant message, `quota_exceeded`, `done`",
        },
        503: {"model": ErrorBody, "description": "Storage (or the quota store) cannot be reached"},
        502: {"model": ErrorBody, "description": "The model provider failed before the first event"},
    },
    dependencies=[TurnRateLimit],
)
async def create_invocation(
    body: InvocationRequest,
    user: CurrentUser,
    access: TurnAccessDep,
    chat: ChatServicesDep,
    response: Response,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> EventSourceResponse:
    """Run one turn; errors before the first event are HTTP errors, later ones a `stream_error` event.

    A spend-quota refusal is streamed to a client that accepts `text/event-stream` (the web client
    shows only "Connection Error" for a 429), and is a 429 for the others.
    """
    started = time.perf_counter()
    stream_refusal = accept is not None and "text/event-stream" in accept
    frames = await service.start_chat(
        chat, user, access, body, started=started, stream_refusal=stream_refusal
    )
    return EventSourceResponse(
        frames,
        # The RateLimit fields the turn-rate dependency set (a returned response does not take them).
        headers={**response.headers, "Cache-Control": "no-cache", "X-Session-ID": body.session_id},
        ping=chat.settings.sse_ping_seconds,
        sep="\n",
    )
