"""The assistants' knowledge base, opened on first use and closed at shutdown.

Opening loads the embedder (the local model takes about a second) and may need an extra that a
deployment did not install: doing it lazily keeps start-up fast, and a missing extra fails only the
requests that need knowledge, with an error that names what to install (`MissingExtraError`). The
knowledge-base code itself (NumPy, parsers, embedders, indexes) is imported then too, not at start-up.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from chat_rag import RagConfig

if TYPE_CHECKING:
    from chat_rag import KnowledgeBase

__all__ = ["KnowledgeBases"]


class KnowledgeBases:
    """One `KnowledgeBase` handle per process, shared by requests and background tasks."""

    def __init__(self, config: RagConfig) -> None:
        self._config = config
        self._stack = AsyncExitStack()
        self._opened: KnowledgeBase | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> KnowledgeBase:
        """The open knowledge base (opened now if this is the first use).

        Raises:
            MissingExtraError: the configured embedder or index needs an extra that is not installed.
            UnavailableError: the index cannot be reached (the next call tries again).
        """
        if self._opened is None:
            async with self._lock:
                if self._opened is None:
                    from chat_rag import open_knowledge_base

                    self._opened = await self._stack.enter_async_context(open_knowledge_base(self._config))
        return self._opened

    async def aclose(self) -> None:
        """Close the embedder and index clients, if they were opened (at shutdown)."""
        await self._stack.aclose()
        self._opened = None
