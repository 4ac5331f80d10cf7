"""A chat turn, in order: limits, session, model, tools, attachments, assistant and knowledge, history.

Everything here runs before the first event is sent, so every failure is an ordinary HTTP error with
the error body, and nothing is written: a new session (and the assistant a first turn binds) is
created by the turn's one atomic write, once the turn ran. The prepared turn then runs in its own
task (`chat_agent.turns`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat_agent.history import load_history, to_strands_messages
from chat_agent.models.base import Grounding, ModelFactory, ModelRequest, Passage
from chat_agent.prompts import system_prompt
from chat_agent.streaming import encode_event
from chat_agent.tools.registry import ToolRegistry
from chat_agent.turns import PreparedTurn, StorageTurnStore, TurnRunner
from chat_core.assistants import Assistant, AssistantAccess, assistant_access, require_use
from chat_core.errors import (
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    QuotaExceededError,
)
from chat_core.identity import User
from chat_core.ids import AssistantId, SessionId, validate_id
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.messages import ContentBlock, MessageDraft
from chat_core.sessions import SessionMetadata
from chat_http.knowledge import KnowledgeBases
from chat_http.metrics import EdgeMetrics
from chat_http.quotas import QuotaCatalogueCache
from chat_rag import SearchHit, augment_prompt, citations
from chat_storage import Storage
from inference_api.chat.access import TurnAccess, check_model, resolve_tools
from inference_api.chat.attachments import (
    ResolvedAttachment,
    attachment_texts,
    document_names,
    resolve_attachments,
)
from inference_api.chat.quota import admit_turn, refusal_frames
from inference_api.chat.schemas import InvocationRequest
from inference_api.config import Settings

__all__ = ["ChatServices", "prepare_turn", "start_chat"]


@dataclass(frozen=True, slots=True)
class ChatServices:
    """What a turn needs, opened once by the lifespan and shared by all requests (no per-user state)."""

    settings: Settings
    storage: Storage
    models: ModelFactory
    tools: ToolRegistry
    knowledge: KnowledgeBases
    turns: TurnRunner
    quotas: QuotaCatalogueCache
    metrics: EdgeMetrics | None = None


def _check_limits(settings: Settings, body: InvocationRequest) -> None:
    if len(body.message) > settings.max_message_chars:
        raise InvalidInputError(
            f"The message is longer than {settings.max_message_chars} characters.",
            field="message",
            detail={"maxChars": settings.max_message_chars},
        )
    if body.system_prompt is not None and len(body.system_prompt) > settings.max_system_prompt_chars:
        raise InvalidInputError(
            f"The system prompt is longer than {settings.max_system_prompt_chars} characters.",
            field="system_prompt",
            detail={"maxChars": settings.max_system_prompt_chars},
        )


def _check_session(session: SessionMetadata | None, session_id: SessionId) -> None:
    """A deleted session takes no more turns (a missing one is new: the turn's write creates it).

    Sessions are keyed by owner, so another user's session id names a new session of the caller's own.
    """
    if session is not None and session.deleted:
        raise NotFoundError(f"Session {session_id!r} was not found.", field="session_id")


async def _session_assistant(
    storage: Storage, user: User, session: SessionMetadata | None, requested: str | None
) -> tuple[Assistant | None, bool]:
    """The turn's assistant, and whether the turn binds it to the session.

    A session's first turn binds the assistant (the turn's atomic write records it, and refuses to
    replace another one bound meanwhile); it never changes afterwards.
    """
    bound = session.preferences.assistant_id if session is not None else None
    if requested is None and bound is None:
        return None, False
    if bound is not None and requested is not None and requested != bound:
        raise BadRequestError(
            "This session already uses another assistant; start a new session to use this one.",
            field="assistant_id",
            detail={"boundAssistantId": bound},
        )
    assistant_id = AssistantId(validate_id(requested or bound or "", field="assistant_id"))
    found = await storage.assistants.get(assistant_id)
    share = None
    if found is not None and found.owner_id != user.user_id and user.email:
        share = await storage.assistants.get_share(assistant_id, user.email)
    assistant = require_use(assistant_id, found, user, share)
    if bound is None and session is not None and session.message_count > 0:
        raise BadRequestError(
            "An assistant can only be chosen on the first message of a session.", field="assistant_id"
        )
    if (
        share is not None
        and not share.first_interacted
        and assistant_access(assistant, user, share) is AssistantAccess.SHARED
    ):
        await storage.assistants.mark_share_interacted(assistant_id, user.email)
    return assistant, bound is None


async def _search_knowledge(
    services: ChatServices, assistant: Assistant | None, question: str
) -> list[SearchHit]:
    if assistant is None:
        return []
    documents = await services.storage.documents.list(assistant.assistant_id, limit=1)
    if not documents.items:
        return []  # nothing to search: do not load the embedder for it
    knowledge = await services.knowledge.get()
    return await knowledge.search(assistant.assistant_id, question, top_k=services.settings.rag_top_k)


def _prompt_blocks(text: str, attachments: Sequence[ResolvedAttachment]) -> list[dict[str, Any]]:
    names = document_names(attachments)
    return [{"text": text}, *(item.model_block(name) for item, name in zip(attachments, names, strict=True))]


def _preferences(
    body: InvocationRequest, managed: ManagedModel, temperature: float, bound_assistant: Assistant | None
) -> dict[str, Any]:
    preferences: dict[str, Any] = {
        "lastModel": managed.model_id,
        "lastTemperature": temperature,
        "enabledTools": list(body.enabled_tools or []),
    }
    if body.system_prompt is not None:
        preferences["systemPromptHash"] = hashlib.sha256(body.system_prompt.encode()).hexdigest()[:16]
    if bound_assistant is not None:
        preferences["assistantId"] = bound_assistant.assistant_id
    return preferences


async def prepare_turn(
    services: ChatServices, user: User, access: TurnAccess, body: InvocationRequest, *, started: float
) -> PreparedTurn:
    """Validate and gather everything a turn needs, in the documented order.

    Raises:
        InvalidInputError: a limit is exceeded or a value is invalid (422).
        NotFoundError: unknown model, foreign or unknown assistant or upload, deleted session (404).
        PermissionDeniedError: a model or tool the caller's AppRoles do not grant (403).
        BadRequestError: an assistant change within a session, the offline model in production (400).
        ConflictError: an upload that is not ready (409).
        UnavailableError: storage or the knowledge base cannot be reached (503).
    """
    settings = services.settings
    storage = services.storage
    _check_limits(settings, body)
    session_id = SessionId(validate_id(body.session_id, field="session_id"))
    chosen_model = body.model_id or settings.default_model_id
    # The three reads every turn needs go out together (one wait instead of three); the checks on
    # what they return still run in the documented order.
    session, found_model, history = await asyncio.gather(
        storage.sessions.get(user.user_id, session_id),
        storage.managed_models.get_by_model_id(chosen_model),
        load_history(storage.messages, user.user_id, session_id, limit=settings.history_messages),
    )
    _check_session(session, session_id)
    managed = check_model(found_model, chosen_model, access)
    if body.max_tokens is not None and body.max_tokens > managed.max_output_tokens:
        raise InvalidInputError(
            f"max_tokens is limited to {managed.max_output_tokens} for this model.",
            field="max_tokens",
            detail={"maximum": managed.max_output_tokens},
        )
    tools = resolve_tools(services.tools, access, body.enabled_tools)
    attachments = await resolve_attachments(
        storage,
        settings.upload_policy(),
        user,
        body.files or [],
        body.file_upload_ids or [],
        max_files=settings.file_max_per_message,
    )
    assistant, binds_assistant = await _session_assistant(storage, user, session, body.assistant_id)
    hits = await _search_knowledge(services, assistant, body.message)
    assert assistant is not None or not hits
    turn_citations = citations(assistant.assistant_id, hits) if assistant is not None else []
    grounding = Grounding(question=body.message)
    if managed.provider is ModelProvider.OFFLINE:
        grounding = Grounding(
            question=body.message,
            passages=tuple(
                Passage(number, hit.file_name, hit.text) for number, hit in enumerate(hits, start=1)
            ),
            attachments=await attachment_texts(attachments, max_bytes=settings.file_max_bytes),
        )
    temperature = settings.default_temperature if body.temperature is None else body.temperature
    model = services.models(
        ModelRequest(
            managed_model=managed,
            temperature=temperature,
            max_tokens=body.max_tokens,
            caching=bool(managed.supports_caching) if body.caching_enabled is None else body.caching_enabled,
            grounding=grounding,
        )
    )
    text = (
        augment_prompt(body.message, hits, budget_chars=settings.rag_context_chars) if hits else body.message
    )
    return PreparedTurn(
        user=user,
        session_id=session_id,
        managed_model=managed,
        model=model,
        system_prompt=system_prompt(
            body.system_prompt or settings.system_prompt,
            today=datetime.now(UTC).date(),
            instructions=assistant.instructions if assistant is not None else None,
        ),
        prompt=_prompt_blocks(text, attachments),
        history=to_strands_messages(history),
        tools=tools,
        citations=turn_citations,
        user_message=MessageDraft(
            role="user",
            content=[ContentBlock.of_text(body.message), *(item.stored_block() for item in attachments)],
        ),
        preferences=_preferences(body, managed, temperature, assistant if binds_assistant else None),
        started=started,
    )


async def start_chat(
    services: ChatServices,
    user: User,
    access: TurnAccess,
    body: InvocationRequest,
    *,
    started: float,
    stream_refusal: bool = False,
) -> AsyncIterator[bytes]:
    """Prepare, admit (spend quota), start; the SSE frames once the first event exists.

    A due `quota_warning` event comes first. With `stream_refusal` (the client asked for an event
    stream) a blocked turn is the refusal's frames instead of an error.

    Raises:
        QuotaExceededError: a `block` limit is reached (429, nothing streamed) without `stream_refusal`.
    """
    turn = await prepare_turn(services, user, access, body, started=started)
    storage = services.storage
    try:
        admission = await admit_turn(
            services.settings,
            storage,
            services.quotas,
            services.metrics,
            access.permissions,
            turn,
            max_tokens=body.max_tokens,
        )
    except QuotaExceededError as refused:
        if not stream_refusal:
            raise
        return refusal_frames(refused)
    frames = await services.turns.start(turn, StorageTurnStore(storage.turns, quota=admission.stamp))
    if admission.warning is None:
        return frames
    return _after(encode_event("quota_warning", admission.warning), frames)


async def _after(first: bytes, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for frame in frames:
        yield frame
