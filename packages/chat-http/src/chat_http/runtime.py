"""The request headers of Amazon Bedrock AgentCore Runtime: its session id and forwarded custom headers.

The runtime names each of its sessions (one microVM, kept for up to 8 hours, ended after 15 minutes
without a request) with `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` and forwards headers named
`X-Amzn-Bedrock-AgentCore-Runtime-Custom-*` from the caller. The session id is where a request ran,
for logs and traces; it never names stored data (a conversation is the body's `session_id`, kept per
user). The names are those of the bedrock-agentcore SDK (`bedrock_agentcore/runtime/models.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import Depends

from chat_core.errors import InvalidInputError

if TYPE_CHECKING:
    from chat_agent.turns import PreparedTurn, TurnOutcome

__all__ = [
    "CUSTOM_HEADER_PREFIX",
    "RUNTIME_SESSION_HEADER",
    "PingStatus",
    "RuntimeContext",
    "RuntimeContextDep",
    "RuntimeStatus",
    "current_runtime_context",
    "read_runtime_headers",
    "runtime_context_var",
]

RUNTIME_SESSION_HEADER: Final = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
CUSTOM_HEADER_PREFIX: Final = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-"
_SESSION_KEY: Final = RUNTIME_SESSION_HEADER.lower().encode("latin-1")
_CUSTOM_PREFIX: Final = CUSTOM_HEADER_PREFIX.lower().encode("latin-1")
_SESSION_ID: Final = re.compile(r"[\x21-\x7e]{33,256}")
"""33 to 256 visible ASCII characters, the runtime's bounds for a session id."""


@dataclass(frozen=True, slots=True)
class RuntimeContext:
    """What the runtime told about the request being served (empty outside the runtime)."""

    session_id: str | None = None
    """The runtime session the request runs in."""
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    """The forwarded `X-Amzn-Bedrock-AgentCore-Runtime-Custom-*` headers, by lower-case name (their
    total size is bounded by the HTTP server's header limit)."""


runtime_context_var: ContextVar[RuntimeContext | None] = ContextVar("runtime_context", default=None)
"""Set by the request-context middleware of a service that runs on the runtime."""


def read_runtime_headers(headers: Iterable[tuple[bytes, bytes]]) -> RuntimeContext:
    """The runtime context in raw ASGI headers.

    Raises:
        InvalidInputError: the session id header is not 33 to 256 visible ASCII characters.
    """
    session_id: str | None = None
    custom: dict[str, str] = {}
    for key, value in headers:
        if key == _SESSION_KEY:
            session_id = value.decode("latin-1")
            if not _SESSION_ID.fullmatch(session_id):
                raise InvalidInputError(
                    "The runtime session id must be 33 to 256 visible ASCII characters.",
                    field=RUNTIME_SESSION_HEADER,
                )
        elif key.startswith(_CUSTOM_PREFIX):
            custom[key.decode("latin-1")] = value.decode("latin-1")
    return RuntimeContext(session_id=session_id, custom_headers=custom)


async def current_runtime_context() -> RuntimeContext:
    """The runtime context of the request being served (a FastAPI dependency)."""
    return runtime_context_var.get() or RuntimeContext()


RuntimeContextDep = Annotated[RuntimeContext, Depends(current_runtime_context)]


class PingStatus(StrEnum):
    """The health states of `GET /ping`, spelt as the runtime and its SDK spell them.

    bedrock-agentcore's `bedrock_agentcore/runtime/models.py` (`PingStatus`); a test compares the two.
    """

    HEALTHY = "Healthy"
    """Idle: the runtime may end the session once its idle timeout has passed."""
    HEALTHY_BUSY = "HealthyBusy"
    """Work is under way: the runtime keeps the session (and its microVM) alive."""


class RuntimeStatus:
    """`HealthyBusy` while turns run (a `chat_agent.turns.TurnObserver`), and since when.

    A turn counts until its task ends, so one that goes on after its client disconnected still keeps
    the runtime from reclaiming the container before the answer is stored.
    """

    def __init__(self) -> None:
        self._running = 0
        self._changed_at = time.time()

    def turn_started(self, turn: PreparedTurn) -> None:
        """One more turn running (busy from the first)."""
        self._running += 1
        if self._running == 1:
            self._changed_at = time.time()

    def turn_ended(self, outcome: TurnOutcome) -> None:
        """One turn fewer (idle after the last)."""
        self._running -= 1
        if self._running == 0:
            self._changed_at = time.time()

    @property
    def status(self) -> PingStatus:
        """What `/ping` answers now."""
        return PingStatus.HEALTHY_BUSY if self._running else PingStatus.HEALTHY

    @property
    def changed_at(self) -> int:
        """When the status last changed, in Unix seconds."""
        return int(self._changed_at)
