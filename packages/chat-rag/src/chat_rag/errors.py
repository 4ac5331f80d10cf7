"""Errors specific to chat-rag; every one is a `chat_core.errors.ChatError`."""

from __future__ import annotations

from chat_core.errors import UnavailableError

__all__ = ["MissingExtraError"]


class MissingExtraError(UnavailableError):
    """A configured feature needs an optional dependency that is not installed.

    The message names what to install, e.g. ``pip install 'chat-rag[bedrock]'``.
    """

    recoverable = False

    def __init__(self, feature: str, install: str) -> None:
        super().__init__(f"{feature} is not installed: run `{install}`.", retry_after=None)
        self.install = install
