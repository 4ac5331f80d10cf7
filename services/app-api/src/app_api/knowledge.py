"""The knowledge base, opened on first use and closed at shutdown.

Opening it lazily keeps the start-up fast and lets the service run without the RAG extras: only the
document routes then fail, with an error naming the extra to install (`MissingExtraError`).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from chat_rag import KnowledgeBase, RagConfig, open_knowledge_base

__all__ = ["KnowledgeBases"]


class KnowledgeBases:
    """One `KnowledgeBase` per process, shared by the requests and the ingestion tasks."""

    def __init__(self, config: RagConfig) -> None:
        self._config = config
        self._stack = AsyncExitStack()
        self._knowledge_base: KnowledgeBase | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> KnowledgeBase:
        """The open knowledge base (opened now if this is the first use).

        Raises:
            MissingExtraError: the configured embedder or index needs an extra that is not installed.
            UnavailableError: the index cannot be reached.
        """
        if self._knowledge_base is None:
            async with self._lock:
                if self._knowledge_base is None:
                    self._knowledge_base = await self._stack.enter_async_context(
                        open_knowledge_base(self._config)
                    )
        return self._knowledge_base

    async def aclose(self) -> None:
        """Close the embedder and index clients, if they were opened."""
        await self._stack.aclose()
        self._knowledge_base = None
