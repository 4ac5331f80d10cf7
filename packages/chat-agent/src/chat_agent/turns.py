"""Running a prepared turn in its own task, decoupled from the HTTP response that streams it.

The task runs the agent, stores the turn (through a `TurnStore`) and encodes protocol events into an
outbox of SSE bytes as they happen; the response only takes what the outbox holds. A client that
disconnects stops reading, and nothing else changes: the answer is still generated and stored
completely. Shutdown waits for running turns (`drain`).

A failure inside the task is stored as a failed turn and ends the stream with `stream_error` and
`done`; if nothing had been sent yet, the request fails as an ordinary HTTP error instead.

Observers (`TurnObserver`) hear of every turn's start and end, whatever happened to the request: the
services count turns for their metrics and keep the AgentCore Runtime's busy status with them. Each turn
is one OpenTelemetry span (`chat.turn`, through the API only: a no-op unless the service configured
tracing); the agent's, model's and storage's spans are its children.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from uuid import uuid4

from opentelemetry import trace
from strands import Agent, ModelRetryStrategy
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.models import Model
from strands.types.content import ContentBlock as ContentBlockInput
from strands.types.content import Messages

from chat_agent.models.errors import as_chat_error
from chat_agent.streaming import SseEvent, StreamTranslator, encode_event, stream_error_event
from chat_core.costs import PricingSnapshot, TokenUsage, compute_cost
from chat_core.errors import ChatError, ErrorCode, InternalError, UnavailableError
from chat_core.identity import User
from chat_core.ids import SessionId
from chat_core.managed_models import ManagedModel
from chat_core.messages import (
    Attribution,
    Citation,
    ContentBlock,
    Latency,
    MessageDraft,
    MessageMetadata,
    MessageStatus,
    ModelInfo,
)
from chat_core.ports import TurnRepository
from chat_core.quotas import QuotaStamp
from chat_core.turns import TurnCharge, TurnRecord

__all__ = [
    "DiscardingTurnStore",
    "FinishedTurn",
    "PreparedTurn",
    "StorageTurnStore",
    "TurnObserver",
    "TurnOutcome",
    "TurnPolicy",
    "TurnRunner",
    "TurnStore",
]

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

_SERVER_SIDE = frozenset({ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.STREAM_ERROR})


@dataclass(frozen=True, slots=True)
class TurnPolicy:
    """How turns run: model retries, the agent's window, and how events are written out."""

    max_attempts: int
    """Model calls per cycle when the provider throttles."""
    initial_delay: int
    """Seconds before the first retry; doubles after each."""
    window_messages: int
    """Messages the agent's sliding window keeps (older ones are dropped on overflow)."""
    flush_seconds: float = 0.0
    """Events arriving within this time of the previous write are written together."""


@dataclass(frozen=True, slots=True)
class PreparedTurn:
    """A validated turn: who, where, which model, and exactly what the model and storage get."""

    user: User
    session_id: SessionId
    managed_model: ManagedModel
    model: Model
    system_prompt: str
    prompt: list[dict[str, Any]]
    """Content blocks sent to the model (the augmented text and the attachments)."""
    history: list[dict[str, Any]]
    tools: list[Any]
    citations: list[Citation]
    user_message: MessageDraft
    """What is stored for the user: their own text and attachment references."""
    preferences: dict[str, Any]
    """Session preferences the stored turn merges; `assistantId` binds the session's assistant."""
    started: float
    """`time.perf_counter()` when the request arrived."""
    turn_id: str = field(default_factory=lambda: uuid4().hex)
    """Names the turn in storage: storing it again (a retry, the failure path) stores nothing twice."""


@dataclass(frozen=True, slots=True)
class FinishedTurn:
    """A turn at its end (answered or failed), as a `TurnStore` keeps it."""

    turn: PreparedTurn
    reply: MessageDraft
    usage: TokenUsage
    pricing: PricingSnapshot
    counts_cost: bool
    """Whether the turn is billed (it answered, or a failed turn still used tokens)."""
    finished_at: datetime


class TurnStore(Protocol):
    """Where finished turns go."""

    async def store(self, finished: FinishedTurn) -> str:
        """Keep the user's message, the reply and the cost; the reply's message id."""
        ...


class StorageTurnStore:
    """Stores each turn as one atomic write: both messages, the session's counters and the cost.

    With `quota`, the write also settles the turn's quota: its reservation is released and its cost
    counted against the user's day and month and the cost rollups, under the tier it ran in.
    """

    def __init__(self, turns: TurnRepository, *, quota: QuotaStamp | None = None) -> None:
        self._turns = turns
        self._quota = quota

    async def store(self, finished: FinishedTurn) -> str:
        """Record the turn under its turn id (a second store of the same turn writes nothing)."""
        turn = finished.turn
        model = turn.managed_model
        recorded = await self._turns.record(
            TurnRecord(
                turn_id=turn.turn_id,
                user_id=turn.user.user_id,
                session_id=turn.session_id,
                user_message=turn.user_message,
                reply=finished.reply,
                at=finished.finished_at,
                preferences=turn.preferences,
                charge=TurnCharge(
                    model_id=model.model_id,
                    model_name=model.model_name,
                    provider=model.provider.value,
                    usage=finished.usage,
                    pricing=finished.pricing,
                )
                if finished.counts_cost
                else None,
                quota=self._quota,
            )
        )
        return recorded.reply.id


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """How a turn ended, for observers (metrics): never its text."""

    turn: PreparedTurn
    error_code: ErrorCode | None
    """`None` when the turn was answered and kept; otherwise why it failed."""
    usage: TokenUsage
    cost: float
    """US dollars, from the managed model's prices."""
    first_token_seconds: float | None
    """From the request's arrival to the model's first output (`None`: there was none)."""
    duration_seconds: float
    """From the request's arrival to the end of the answer (or the failure), before it was stored."""


class TurnObserver(Protocol):
    """Hears of every turn the runner starts, and of its end (exactly once, even if cancelled).

    Called on the event loop; an observer must be quick and must not raise.
    """

    def turn_started(self, turn: PreparedTurn) -> None:
        """A turn's task was just created."""
        ...

    def turn_ended(self, outcome: TurnOutcome) -> None:
        """A turn's task ended, its answer kept or its failure recorded."""
        ...


class DiscardingTurnStore:
    """Keeps nothing: previews (an assistant's test chat) run a real turn without a session."""

    async def store(self, finished: FinishedTurn) -> str:
        """A fresh id for the reply, which is not stored."""
        return f"preview-{uuid4().hex}"


@dataclass(frozen=True, slots=True)
class _Failure:
    """The turn failed: close what is open, then `stream_error` and `done`."""

    error: ChatError
    closing: list[SseEvent]


def _wire_usage(usage: TokenUsage) -> dict[str, int]:
    wire = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
    if usage.cache_read_input_tokens is not None:
        wire["cacheReadInputTokens"] = usage.cache_read_input_tokens
    if usage.cache_write_input_tokens is not None:
        wire["cacheWriteInputTokens"] = usage.cache_write_input_tokens
    return wire


def _milliseconds(start: float, end: float | None) -> int | None:
    return None if end is None else max(0, round((end - start) * 1000))


class _TurnExecution:
    """One turn's task body and the outbox its response reads.

    The outbox is the SSE bytes of the events not yet taken (each event is encoded once, when it
    happens: no object per event waits in a queue) and how the turn ended: `done` sent, a failure,
    or the task ending without either.
    """

    def __init__(self, turn: PreparedTurn, store: TurnStore, policy: TurnPolicy) -> None:
        self._turn = turn
        self._store_turn = store
        self._policy = policy
        self._translator = StreamTranslator()
        self._outbox = bytearray()
        self._done = False
        """`done` is in the outbox: nothing follows it."""
        self._failure: _Failure | None = None
        self._task_ended = False
        self._ended = False
        self._reader: asyncio.Future[None] | None = None
        """The response waiting for something in the outbox or for the end."""
        self._lingering: asyncio.Future[None] | None = None
        """Resolved to end the response's wait for more events early: the turn has ended."""
        self._answered_at: float | None = None

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self._outbox += encode_event(name, data)
        if name == "done":
            self._done = True
            self._end()
        self._wake()

    def _wake(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _finished(self) -> bool:
        return self._done or self._failure is not None or self._task_ended

    async def wait(self) -> None:
        """Until the outbox holds something or the turn has ended."""
        while not self._outbox and not self._finished():
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None

    def first_failure(self) -> ChatError | None:
        """Why the turn ended before its first event (after `wait`), or `None` if it has events."""
        if self._outbox:
            return None
        if self._failure is not None:
            return self._failure.error
        return InternalError("The answer ended unexpectedly.")

    def _end(self) -> None:
        self._ended = True
        self._stop_lingering()

    def _stop_lingering(self) -> None:
        if self._lingering is not None and not self._lingering.done():
            self._lingering.set_result(None)

    async def run(self) -> None:
        model = self._turn.managed_model
        attributes = {"chat.model_id": model.model_id, "chat.provider": model.provider.value}
        with _tracer.start_as_current_span("chat.turn", attributes=attributes) as span:
            try:
                await self._answer()
            except asyncio.CancelledError:
                await self._fail(UnavailableError("The service stopped before the answer was complete."))
                raise
            except Exception as exc:
                error = as_chat_error(exc)
                span.set_attribute("chat.error_code", error.code.value)
                await self._fail(error)
                if error is exc:
                    raise
                raise error from exc
            finally:
                usage = self._translator.usage
                span.set_attributes(
                    {
                        "gen_ai.usage.input_tokens": usage.input_tokens,
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                    }
                )
                self._task_ended = True
                self._end()
                self._wake()

    def outcome(self, error_code: ErrorCode | None) -> TurnOutcome:
        """The turn's outcome now that its task has ended."""
        turn = self._turn
        usage = self._translator.usage
        first_token = self._translator.first_token_at
        ended = self._answered_at if self._answered_at is not None else time.perf_counter()
        return TurnOutcome(
            turn=turn,
            error_code=error_code,
            usage=usage,
            cost=compute_cost(usage, turn.managed_model.pricing_snapshot()).total_cost,
            first_token_seconds=None if first_token is None else max(0.0, first_token - turn.started),
            duration_seconds=max(0.0, ended - turn.started),
        )

    async def _answer(self) -> None:
        turn = self._turn
        for citation in turn.citations:
            self._emit("citation", citation.to_json_dict())
        agent = Agent(
            model=turn.model,
            messages=cast("Messages", turn.history),
            tools=turn.tools,
            system_prompt=turn.system_prompt,
            callback_handler=None,
            record_direct_tool_call=False,
            conversation_manager=SlidingWindowConversationManager(window_size=self._policy.window_messages),
            retry_strategy=ModelRetryStrategy(
                max_attempts=self._policy.max_attempts, initial_delay=self._policy.initial_delay, max_delay=60
            ),
        )
        async for event in agent.stream_async(cast("list[ContentBlockInput]", turn.prompt)):
            for name, data in self._translator.feed(event):
                self._emit(name, data)
        ended = self._answered_at = time.perf_counter()
        message_id, cost = await self._store(
            MessageStatus.COMPLETE, self._translator.reply_blocks(), ended=ended, error=None
        )
        self._emit(
            "metadata",
            {
                "usage": _wire_usage(self._translator.usage),
                "metrics": {
                    "latencyMs": _milliseconds(turn.started, ended),
                    "timeToFirstByteMs": _milliseconds(turn.started, self._translator.first_token_at),
                },
                "cost": cost,
                "messageId": message_id,
            },
        )
        self._emit("done", {})

    async def _fail(self, error: ChatError) -> None:
        if self._answered_at is None:
            self._answered_at = time.perf_counter()
        try:
            await self._store(
                MessageStatus.FAILED,
                [ContentBlock.of_text(error.message)],
                ended=time.perf_counter(),
                error=error,
            )
        finally:
            self._failure = _Failure(error, self._translator.close())
            self._end()
            self._wake()

    async def _store(
        self, status: MessageStatus, content: list[ContentBlock], *, ended: float, error: ChatError | None
    ) -> tuple[str, float]:
        """Build the reply with its metadata and cost, and hand the finished turn to the store."""
        turn = self._turn
        usage = self._translator.usage
        model = turn.managed_model
        pricing = model.pricing_snapshot()
        cost = compute_cost(usage, pricing)
        metadata = MessageMetadata(
            latency=Latency(
                time_to_first_token=_milliseconds(turn.started, self._translator.first_token_at),
                end_to_end_latency=_milliseconds(turn.started, ended),
            ),
            token_usage=usage,
            model_info=ModelInfo(
                model_id=model.model_id,
                model_name=model.model_name,
                provider=model.provider.value,
                pricing_snapshot=pricing,
            ),
            attribution=Attribution(user_id=turn.user.user_id, session_id=turn.session_id),
            cost=cost,
            citations=turn.citations or None,
            error_code=error.code.value if error is not None else None,
        )
        message_id = await self._store_turn.store(
            FinishedTurn(
                turn=turn,
                reply=MessageDraft(role="assistant", content=content, status=status, metadata=metadata),
                usage=usage,
                pricing=pricing,
                counts_cost=error is None
                or bool(usage.total_tokens or usage.input_tokens or usage.output_tokens),
                finished_at=datetime.now(UTC),
            )
        )
        return message_id, cost.total_cost

    async def frames(self) -> AsyncIterator[bytes]:
        """SSE frames from the outbox until `done` (a failure ends with `stream_error`, then `done`).

        What the outbox holds goes out at once. An event that follows a write within `flush_seconds`
        waits out the rest of that interval (or until the turn ends, whichever comes first), and
        whatever arrived meanwhile is written with it: a fast model then costs one write per interval
        instead of one per token (the socket write is the dominant cost of a stream), a turn that ends
        within the interval is written at once, and no event is held back longer than the interval.
        """
        loop = asyncio.get_running_loop()
        while True:
            await self.wait()
            chunk = bytes(self._outbox)
            self._outbox.clear()
            if self._done:
                yield chunk
                return
            if self._failure is not None or self._task_ended:
                failure = self._failure or _Failure(InternalError("The answer ended unexpectedly."), [])
                yield chunk + self._failure_frames(failure)
                return
            yield chunk
            written = loop.time()
            await self.wait()
            linger = self._policy.flush_seconds - (loop.time() - written)
            if linger > 0 and not self._ended:
                self._lingering = loop.create_future()
                timer = loop.call_later(linger, self._stop_lingering)
                await self._lingering
                timer.cancel()

    def _failure_frames(self, failure: _Failure) -> bytes:
        frames = [encode_event(name, data) for name, data in failure.closing]
        frames.append(
            encode_event("stream_error", stream_error_event(failure.error, session_id=self._turn.session_id))
        )
        frames.append(encode_event("done", {}))
        return b"".join(frames)


class TurnRunner:
    """Starts turns as tasks owned by the application, and waits for them at shutdown."""

    def __init__(self, policy: TurnPolicy, *, observers: Sequence[TurnObserver] = ()) -> None:
        self._policy = policy
        self._observers = tuple(observers)
        self._tasks: dict[asyncio.Task[None], _TurnExecution] = {}

    @property
    def running(self) -> int:
        """Turns in progress."""
        return len(self._tasks)

    async def start(self, turn: PreparedTurn, store: TurnStore) -> AsyncIterator[bytes]:
        """Start `turn` (kept by `store` when it ends) and wait for its first event; return its SSE frames.

        Raises:
            ChatError: the turn failed before its first event (sent as an HTTP error, not a stream).
        """
        execution = _TurnExecution(turn, store, self._policy)
        task = asyncio.create_task(execution.run(), name=f"turn:{turn.session_id}")
        self._tasks[task] = execution
        for observer in self._observers:
            observer.turn_started(turn)
        task.add_done_callback(self._finished)
        await execution.wait()
        failure = execution.first_failure()
        if failure is not None:
            raise failure
        return execution.frames()

    def _finished(self, task: asyncio.Task[None]) -> None:
        execution = self._tasks.pop(task)
        error_code: ErrorCode | None = None
        if task.cancelled():
            logger.warning("turn cancelled before it finished", extra={"task": task.get_name()})
            error_code = ErrorCode.SERVICE_UNAVAILABLE  # stored as "the service stopped" (or never started)
        elif (failure := task.exception()) is not None:
            server_side = not isinstance(failure, ChatError) or failure.code in _SERVER_SIDE
            error_code = failure.code if isinstance(failure, ChatError) else ErrorCode.INTERNAL_ERROR
            logger.log(
                logging.ERROR if server_side else logging.WARNING,
                "turn failed: %s",
                failure.code.value if isinstance(failure, ChatError) else type(failure).__name__,
                exc_info=failure,
            )
        if self._observers:
            outcome = execution.outcome(error_code)
            for observer in self._observers:
                observer.turn_ended(outcome)

    async def drain(self, grace_seconds: float) -> None:
        """Let running turns finish (and be stored) for up to `grace_seconds`, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
