"""The knowledge base: ingestion (parse, chunk, embed, store) and search over one embedder and index.

Ingestion is idempotent. A document is keyed by (content hash, chunker version, embedder id): the
same bytes ingested again write nothing, and a retry after a failure replaces whatever the document
had, in one transaction, so chunks are never duplicated. When the configured embedder differs from the
one an assistant's index was built with, the stored chunks are re-embedded into a new space that
replaces the old one atomically.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import AssistantId, DocumentId, validate_id
from chat_rag._terms import query_terms
from chat_rag.chunking import CHUNKER_VERSION, Chunk, chunk_blocks, heading_context
from chat_rag.config import RagConfig
from chat_rag.embeddings import Embedder, open_embedder
from chat_rag.index import ChunkIndex, DocumentRecord, IndexHit, open_index
from chat_rag.parsing import parse_document
from chat_rag.search import SearchHit, fuse_rankings, to_search_hits

__all__ = ["IngestResult", "KnowledgeBase", "Progress", "SearchMode", "open_knowledge_base"]

Progress = Callable[[int, int], Awaitable[None]]
"""Called with (chunks done, chunks in total)."""

SearchMode = Literal["hybrid", "vector", "lexical"]

_A = TypeVar("_A")
_B = TypeVar("_B")


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What an ingestion did."""

    chunk_count: int
    content_hash: str
    """SHA-256 of the file's bytes, hex."""
    skipped: bool
    """True when the same content was already indexed with this chunker and embedder."""


class _Reporter:
    """Forwards progress at most about twenty times per document, and always the final count."""

    def __init__(self, callback: Progress | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._step = max(1, total // 20)
        self._last = -1

    async def __call__(self, done: int) -> None:
        if self._callback is None or done == self._last:
            return
        if done in (0, self._total) or done - max(self._last, 0) >= self._step:
            self._last = done
            await self._callback(done, self._total)


class KnowledgeBase:
    """Per-assistant knowledge bases over one embedder and one index.

    Build it with `open_knowledge_base(config)`; the constructor is for callers that bring their own
    embedder or index (tests, custom deployments).
    """

    def __init__(self, config: RagConfig, embedder: Embedder, index: ChunkIndex) -> None:
        self._config = config
        self._embedder = embedder
        self._index = index
        self._chunk_tokens = min(config.chunk_tokens, embedder.max_input_tokens)
        self._overlap_tokens = min(config.chunk_overlap_tokens, self._chunk_tokens // 2 - 1)
        self._rebuild_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def embedder_id(self) -> str:
        """The vector space new chunks go into."""
        return self._embedder.embedder_id

    @property
    def chunk_tokens(self) -> int:
        """The effective chunk size: the configured one, lowered to the embedder's input limit."""
        return self._chunk_tokens

    async def ingest(
        self,
        assistant_id: AssistantId | str,
        document_id: DocumentId | str,
        *,
        filename: str,
        content_type: str | None,
        data: bytes,
        on_progress: Progress | None = None,
    ) -> IngestResult:
        """Parse, chunk, embed and store a document (replacing an older version of it).

        Args:
            assistant_id: Whose knowledge base.
            document_id: The document's id; ingesting it again replaces its chunks.
            filename: Original file name (its extension picks the parser; shown in citations).
            content_type: Declared media type, used when the extension is unknown.
            data: The file's bytes.
            on_progress: Awaited with (chunks embedded, total chunks) as embedding advances.

        Returns:
            The chunk count and content hash; `skipped` when nothing had to be done.

        Raises:
            InvalidInputError: bad ids, an unsupported, oversized, corrupt or empty file (the message
                is meant for the document's status).
            UnavailableError: the embedder or the index failed; nothing was written.
        """
        assistant = validate_id(str(assistant_id), field="assistant_id")
        document = validate_id(str(document_id), field="document_id")
        content_hash = hashlib.sha256(data).hexdigest()
        await self._ensure_current_space(assistant)
        existing = await self._index.get_document(assistant, self.embedder_id, document)
        if (
            existing is not None
            and existing.content_hash == content_hash
            and existing.chunker_version == CHUNKER_VERSION
        ):
            if on_progress is not None:
                await on_progress(existing.chunk_count, existing.chunk_count)
            return IngestResult(existing.chunk_count, content_hash, skipped=True)
        chunks = await asyncio.to_thread(self._parse_and_chunk, filename, content_type, data)
        reporter = _Reporter(on_progress, len(chunks))
        await reporter(0)
        vectors = await self._embedder.embed_documents(
            [chunk.embedding_text for chunk in chunks],
            on_progress=lambda done: reporter(min(done, len(chunks) - 1)),
        )
        record = DocumentRecord(document, filename, content_hash, CHUNKER_VERSION, len(chunks))
        await self._index.put_document(assistant, self.embedder_id, record, chunks, vectors)
        await reporter(len(chunks))
        return IngestResult(len(chunks), content_hash, skipped=False)

    def _parse_and_chunk(self, filename: str, content_type: str | None, data: bytes) -> list[Chunk]:
        parsed = parse_document(
            filename,
            content_type,
            data,
            max_bytes=self._config.max_file_bytes,
            max_pages=self._config.max_pages,
        )
        chunks = chunk_blocks(
            parsed.blocks,
            count_tokens=self._embedder.count_tokens,
            max_tokens=self._chunk_tokens,
            overlap_tokens=self._overlap_tokens,
        )
        if not chunks:
            raise InvalidInputError(f"{filename!r} contains no text to index.")
        return chunks

    async def search(
        self,
        assistant_id: AssistantId | str,
        query: str,
        *,
        top_k: int | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """The passages of an assistant's documents that best match a query.

        Args:
            assistant_id: Whose knowledge base; no other assistant's chunks can be returned.
            query: The user's question or search text.
            top_k: How many hits (default: the configured `top_k`).
            mode: `hybrid` (lexical and vector, fused by reciprocal rank), `vector` or `lexical`.

        Returns:
            Up to `top_k` hits, best first; empty when the knowledge base is empty.

        Raises:
            InvalidInputError: a bad id, an empty query or a bad `top_k`.
            ConflictError: the index was built with another embedder and is not re-indexed yet.
            UnavailableError: the embedder or the index failed.
        """
        assistant = validate_id(str(assistant_id), field="assistant_id")
        if not query.strip():
            raise InvalidInputError("The search query is empty.", field="query")
        limit = self._config.top_k if top_k is None else top_k
        if not 1 <= limit <= 100:
            raise InvalidInputError(f"top_k must be between 1 and 100, not {limit}.", field="top_k")
        active = await self._index.active_embedder(assistant)
        if active is None:
            return []
        if active != self.embedder_id:
            raise ConflictError(
                f"The knowledge base of {assistant!r} was built with {active!r}, not {self.embedder_id!r}; "
                "it is re-indexed on the next ingestion or by KnowledgeBase.reindex()."
            )
        terms = query_terms(query)
        if mode == "lexical":
            return to_search_hits(await self._index.lexical_search(assistant, active, terms, limit))
        if mode == "vector":
            vector = await self._embedder.embed_query(query)
            return to_search_hits(await self._index.vector_search(assistant, active, vector, limit))
        candidates = max(self._config.candidates, limit)

        async def nearest() -> list[IndexHit]:
            vector = await self._embedder.embed_query(query)
            return await self._index.vector_search(assistant, active, vector, candidates)

        # The full-text search needs no query vector: it runs while the query is embedded and searched.
        by_terms, by_vector = await _concurrently(
            self._index.lexical_search(assistant, active, terms, candidates), nearest()
        )
        return fuse_rankings([by_terms, by_vector], rrf_k=self._config.rrf_k, limit=limit)

    async def reindex(self, assistant_id: AssistantId | str, *, on_progress: Progress | None = None) -> int:
        """Re-embed an assistant's chunks with the configured embedder and switch to them atomically.

        Searches keep using the old vectors until the switch; an interrupted re-index leaves the old
        index in place and is started over next time.

        Returns:
            The number of chunks re-embedded (0 when the index is already current).
        """
        assistant = validate_id(str(assistant_id), field="assistant_id")
        return await self._ensure_current_space(assistant, on_progress)

    async def _ensure_current_space(self, assistant_id: str, on_progress: Progress | None = None) -> int:
        active = await self._index.active_embedder(assistant_id)
        if active is None or active == self.embedder_id:
            return 0
        lock = self._rebuild_locks.setdefault(assistant_id, asyncio.Lock())
        async with lock:
            active = await self._index.active_embedder(assistant_id)
            if active is None or active == self.embedder_id:
                return 0
            return await self._rebuild(assistant_id, active, on_progress)

    async def _rebuild(self, assistant_id: str, previous: str, on_progress: Progress | None) -> int:
        await self._index.drop_space(assistant_id, self.embedder_id)
        documents = await self._index.list_documents(assistant_id, previous)
        total = sum(document.chunk_count for document in documents)
        reporter = _Reporter(on_progress, total)
        await reporter(0)
        done = 0
        contexts: dict[tuple[str, ...], str] = {}
        for document in documents:
            chunks = await self._index.get_chunks(assistant_id, previous, document.document_id)
            for chunk in chunks:
                if chunk.heading_path not in contexts:
                    contexts[chunk.heading_path] = heading_context(
                        chunk.heading_path, self._embedder.count_tokens, self._chunk_tokens
                    )
            chunks = [dataclasses.replace(chunk, context=contexts[chunk.heading_path]) for chunk in chunks]
            vectors = await self._embedder.embed_documents(
                [chunk.embedding_text for chunk in chunks],
                on_progress=functools.partial(_offset_progress, reporter, done, total - 1),
            )
            await self._index.put_document(assistant_id, self.embedder_id, document, chunks, vectors)
            done += len(chunks)
        await self._index.activate(assistant_id, self.embedder_id, previous=previous)
        await reporter(total)
        return total

    async def delete_document(self, assistant_id: AssistantId | str, document_id: DocumentId | str) -> None:
        """Remove a document's chunks; deleting a missing document is a no-op."""
        assistant = validate_id(str(assistant_id), field="assistant_id")
        document = validate_id(str(document_id), field="document_id")
        await self._index.delete_document(assistant, document)

    async def delete_assistant(self, assistant_id: AssistantId | str) -> None:
        """Remove an assistant's whole knowledge base; a missing one is a no-op."""
        await self._index.delete_assistant(validate_id(str(assistant_id), field="assistant_id"))

    async def ping(self) -> None:
        """Raise `UnavailableError` if the index cannot be reached (the embedder is not called)."""
        await self._index.ping()


async def _concurrently(first: Coroutine[Any, Any, _A], second: Coroutine[Any, Any, _B]) -> tuple[_A, _B]:
    """Await both at once; the first failure cancels the other and is raised as it is."""
    try:
        async with asyncio.TaskGroup() as group:
            first_task = group.create_task(first)
            second_task = group.create_task(second)
    except BaseExceptionGroup as failures:
        failure = failures.exceptions[0]
        raise failure from failure.__cause__
    return first_task.result(), second_task.result()


async def _offset_progress(reporter: _Reporter, offset: int, ceiling: int, count: int) -> None:
    await reporter(min(offset + count, ceiling))


@asynccontextmanager
async def open_knowledge_base(
    config: RagConfig, *, embedder: Embedder | None = None, index: ChunkIndex | None = None
) -> AsyncIterator[KnowledgeBase]:
    """Open the configured embedder and index for the lifetime of the block.

    Args:
        config: Embedder, index and ingestion settings.
        embedder: Use this embedder instead of the configured one.
        index: Use this index instead of the configured one.

    Raises:
        MissingExtraError: the configured embedder or index needs an extra that is not installed.
        UnavailableError: the index cannot be reached.
    """
    async with AsyncExitStack() as stack:
        if embedder is None:
            embedder = await stack.enter_async_context(
                open_embedder(
                    config.embedder, batch_size=config.embed_batch_size, concurrency=config.embed_concurrency
                )
            )
        if index is None:
            index = await stack.enter_async_context(open_index(config.index))
        yield KnowledgeBase(config, embedder, index)
