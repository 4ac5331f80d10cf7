"""Errors specific to chat-rag; every one is a `chat_core.errors.ChatError`."""

from __future__ import annotations

from chat_core.errors import MissingExtraError

__all__ = ["MissingExtraError"]
