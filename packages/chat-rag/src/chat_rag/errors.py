"""Errors specific to chat-rag; every one is a `chat_core.errors.ChatError`."""

from __future__ import annotations

from typing import ClassVar

from chat_core.errors import ConflictError, MissingExtraError

__all__ = ["DimensionMismatchError", "MissingExtraError"]


class DimensionMismatchError(ConflictError):
    """The index holds vectors of one size and the embedder produced another.

    An embedder id names its model and size, so this means the model behind an id changed (an
    OpenAI-compatible server now serving another model under the same name, say). Retrying cannot
    help: the embedder configuration must name the model the index was built with, or the
    documents must be ingested again.
    """

    recoverable: ClassVar[bool] = False

    def __init__(self, stored: int, produced: int) -> None:
        super().__init__(
            f"The knowledge base holds {stored}-dimension vectors but the embedder produced {produced}-dimension"
            " ones: configure the embedder the knowledge base was built with, or ingest its documents again.",
            detail={"storedDimensions": stored, "queryDimensions": produced},
        )
        self.stored = stored
        self.produced = produced
