"""What inference-api's lifespan opens once and every request shares."""

from __future__ import annotations

from dataclasses import dataclass

from chat_http.runtime import RuntimeStatus
from chat_http.state import ServiceState
from inference_api.chat.service import ChatServices
from inference_api.config import Settings

__all__ = ["AppState"]


@dataclass(frozen=True, kw_only=True)
class AppState(ServiceState):
    """The edge's state (settings, storage, token verifier) plus the chat services."""

    settings: Settings
    chat: ChatServices
    runtime_status: RuntimeStatus
    """What `/ping` answers (busy while turns run)."""
