"""An assistant's test chat: a real turn over the assistant's knowledge, stored nowhere.

The editor's "Test RAG Chat" panel asks it. It runs on chat-agent's turn machinery, the one
`/invocations` runs: a knowledge-base search, citations, the assistant's instructions in the system
prompt, the default model (the offline model in development). As in the original it is owner-only,
needs a complete document, sends a `debug` event with the passages found before the answer, uses no
tools and no prompt caching, and keeps no session, message or cost (every test chat starts afresh).

The machinery, and strands with it, is loaded by the first test chat, so app-api starts without it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from app_api.assistants.service import load_for_owner
from app_api.config import Settings
from chat_core.documents import DocumentStatus
from chat_core.errors import BadRequestError, InvalidInputError, NotFoundError, PermissionDeniedError
from chat_core.identity import User
from chat_core.ids import AssistantId
from chat_core.managed_models import ManagedModel, ModelProvider
from chat_core.ports import DocumentRepository
from chat_core.roles import UserPermissions, managed_model_allowed
from chat_http.knowledge import KnowledgeBases
from chat_storage import Storage

if TYPE_CHECKING:
    from chat_agent.models.base import ModelFactory
    from chat_agent.turns import TurnRunner
    from chat_http.metrics import EdgeMetrics
    from chat_rag import SearchHit

__all__ = ["DEBUG_TEXT_LIMIT", "PreviewChats", "start_test_chat"]

DEBUG_TEXT_LIMIT = 500
"""Characters of each passage in the `debug` event (the original's cut)."""
_DOCUMENT_PAGE = 100


@dataclass(frozen=True, slots=True)
class _Machinery:
    models: ModelFactory
    runner: TurnRunner


class PreviewChats:
    """The turn machinery of test chats: loaded on first use, drained and closed at shutdown.

    `model_factory` replaces the provider models (tests script a model with it); with `metrics`, test
    chats count as turns (`chat_turns_*`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model_factory: ModelFactory | None = None,
        metrics: EdgeMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._model_factory = model_factory
        self._metrics = metrics
        self._machinery: _Machinery | None = None
        self._providers: Any = None
        self._lock = asyncio.Lock()

    async def machinery(self) -> _Machinery:
        """The model factory and the turn runner, made on the first call."""
        if self._machinery is None:
            async with self._lock:
                if self._machinery is None:
                    self._machinery = self._open()
        return self._machinery

    def _open(self) -> _Machinery:
        from chat_agent.models.providers import ProviderModels
        from chat_agent.turns import TurnPolicy, TurnRunner
        from chat_http.telemetry import TurnMetrics

        settings = self._settings
        models = self._model_factory
        if models is None:
            self._providers = ProviderModels(settings.provider_config())
            models = self._providers
        runner = TurnRunner(
            TurnPolicy(
                max_attempts=settings.model_max_attempts,
                initial_delay=settings.model_retry_delay,
                window_messages=40,
                flush_seconds=settings.sse_flush_ms / 1000,
            ),
            observers=[TurnMetrics(self._metrics)] if self._metrics is not None else (),
        )
        return _Machinery(models, runner)

    async def aclose(self, grace_seconds: float = 10.0) -> None:
        """Let running test chats finish (they store nothing, so this is short), then close the clients."""
        if self._machinery is not None:
            await self._machinery.runner.drain(grace_seconds)
        if self._providers is not None:
            await self._providers.aclose()
        self._machinery = self._providers = None


async def _require_complete_document(documents: DocumentRepository, assistant_id: AssistantId) -> None:
    cursor = None
    while True:
        page = await documents.list(assistant_id, limit=_DOCUMENT_PAGE, cursor=cursor)
        if any(document.status is DocumentStatus.COMPLETE for document in page.items):
            return
        cursor = page.next_cursor
        if cursor is None:
            raise BadRequestError(
                "The assistant has no processed documents yet: upload one and wait until it is complete.",
                field="assistantId",
            )


async def _default_model(storage: Storage, settings: Settings, permissions: UserPermissions) -> ManagedModel:
    managed = await storage.managed_models.get_by_model_id(settings.default_model_id)
    if managed is None:
        raise NotFoundError(f"The default model {settings.default_model_id!r} is not available.")
    if not managed_model_allowed(permissions, managed):
        raise PermissionDeniedError(f"You may not use the model {settings.default_model_id!r}.")
    return managed


def debug_event(hits: Sequence[SearchHit]) -> dict[str, Any]:
    """`{type: "rag_debug", chunk_count, chunks}`: what the knowledge-base search found."""
    return {
        "type": "rag_debug",
        "chunk_count": len(hits),
        "chunks": [
            {
                "index": number,
                "text": hit.text[:DEBUG_TEXT_LIMIT] + ("..." if len(hit.text) > DEBUG_TEXT_LIMIT else ""),
                "score": hit.score,
                "key": f"{hit.document_id}#{hit.position}",
                "source": hit.file_name,
                "documentId": str(hit.document_id),
            }
            for number, hit in enumerate(hits, start=1)
        ],
    }


async def start_test_chat(
    storage: Storage,
    knowledge: KnowledgeBases,
    previews: PreviewChats,
    settings: Settings,
    user: User,
    permissions: UserPermissions,
    assistant_id: str,
    message: str,
    *,
    started: float | None = None,
) -> AsyncIterator[bytes]:
    """Check, search, start the turn; its SSE frames (the `debug` event first) once the first event exists.

    Raises:
        NotFoundError: the assistant is missing or not visible, or the default model is missing (404).
        PermissionDeniedError: the caller may use the assistant but does not own it, or may not use
            the default model (403).
        BadRequestError: no document of the assistant is complete yet (400).
        InvalidInputError: the message is longer than `CHAT_MAX_MESSAGE_CHARS` (422).
        UnavailableError: storage or the knowledge base cannot be reached (503).
        ChatError: the model failed before its first event.
    """
    from chat_agent.models.base import Grounding, ModelRequest, Passage
    from chat_agent.prompts import system_prompt
    from chat_agent.streaming import encode_event
    from chat_agent.turns import DiscardingTurnStore, PreparedTurn
    from chat_core.ids import SessionId
    from chat_core.messages import ContentBlock, MessageDraft
    from chat_rag import augment_prompt, citations

    started = time.perf_counter() if started is None else started
    if len(message) > settings.max_message_chars:
        raise InvalidInputError(
            f"The message is longer than {settings.max_message_chars} characters.",
            field="message",
            detail={"maxChars": settings.max_message_chars},
        )
    assistant = await load_for_owner(storage.assistants, user, assistant_id)
    await _require_complete_document(storage.documents, assistant.assistant_id)
    managed = await _default_model(storage, settings, permissions)
    knowledge_base = await knowledge.get()
    hits = await knowledge_base.search(assistant.assistant_id, message, top_k=settings.rag_top_k)
    grounding = Grounding(question=message)
    if managed.provider is ModelProvider.OFFLINE:
        passages = tuple(Passage(number, hit.file_name, hit.text) for number, hit in enumerate(hits, start=1))
        grounding = Grounding(question=message, passages=passages)
    machinery = await previews.machinery()
    model = machinery.models(
        ModelRequest(
            managed_model=managed,
            temperature=settings.default_temperature,
            max_tokens=None,
            caching=False,
            grounding=grounding,
        )
    )
    text = augment_prompt(message, hits, budget_chars=settings.rag_context_chars) if hits else message
    turn = PreparedTurn(
        user=user,
        session_id=SessionId(f"test-{uuid4().hex[:12]}"),
        managed_model=managed,
        model=model,
        system_prompt=system_prompt(
            settings.system_prompt, today=datetime.now(UTC).date(), instructions=assistant.instructions
        ),
        prompt=[{"text": text}],
        history=[],
        tools=[],
        citations=citations(assistant.assistant_id, hits),
        user_message=MessageDraft(role="user", content=[ContentBlock.of_text(message)]),
        preferences={},
        started=started,
    )
    frames = await machinery.runner.start(turn, DiscardingTurnStore())
    return _after(encode_event("debug", debug_event(hits)), frames)


async def _after(first: bytes, frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for frame in frames:
        yield frame
