"""The chunk-index port and its two adapters: `sqlite` (embedded) and `pgvector` (PostgreSQL).

An index holds, per assistant, one *space* per embedder: the documents, their chunks, the chunk
vectors and a lexical index. Exactly one space per assistant is active (the one searched); changing the
embedder builds a new space beside it and switches in one transaction. Every operation names the
assistant, and each adapter keeps an assistant's data in its own file or tables, so no query, update or
delete ever reads another tenant's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from chat_rag.chunking import Chunk
from chat_rag.config import IndexConfig, PgvectorIndexConfig, SqliteIndexConfig
from chat_rag.errors import MissingExtraError

if TYPE_CHECKING:
    from chat_rag.embeddings import Vectors

__all__ = ["ChunkIndex", "DocumentRecord", "IndexHit", "open_index"]


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """An ingested document in one space: what makes re-ingesting it a no-op."""

    document_id: str
    file_name: str
    content_hash: str
    chunker_version: str
    chunk_count: int


@dataclass(frozen=True, slots=True)
class IndexHit:
    """A chunk found by one retriever, with that retriever's score (higher is better)."""

    document_id: str
    file_name: str
    position: int
    heading_path: tuple[str, ...]
    text: str
    score: float


class ChunkIndex(Protocol):
    """Storage and retrieval of chunks; every backend passes `tests/contract`."""

    async def active_embedder(self, assistant_id: str) -> str | None:
        """The embedder id of the assistant's searched space, or `None` for an empty knowledge base."""
        ...

    async def get_document(
        self, assistant_id: str, embedder_id: str, document_id: str
    ) -> DocumentRecord | None:
        """The document's record in a space, or `None`."""
        ...

    async def list_documents(self, assistant_id: str, embedder_id: str) -> list[DocumentRecord]:
        """All documents of a space, ordered by id."""
        ...

    async def get_chunks(self, assistant_id: str, embedder_id: str, document_id: str) -> list[Chunk]:
        """A document's chunks in position order (to re-embed them for another embedder)."""
        ...

    async def put_document(
        self,
        assistant_id: str,
        embedder_id: str,
        document: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        """Replace the document's chunks in the space in one transaction.

        The space becomes the active one if the assistant has none yet. Writing the same document
        again replaces it, so a retry never duplicates chunks.

        Raises:
            DimensionMismatchError: the space already holds vectors of another size.
        """
        ...

    async def activate(self, assistant_id: str, embedder_id: str, *, previous: str) -> None:
        """Make `embedder_id` the searched space if `previous` still is, and drop `previous`, atomically.

        Raises:
            ConflictError: another writer switched the assistant to a third embedder meanwhile.
        """
        ...

    async def drop_space(self, assistant_id: str, embedder_id: str) -> None:
        """Remove an inactive space (the leftovers of an interrupted re-index)."""
        ...

    async def vector_search(
        self, assistant_id: str, embedder_id: str, vector: Vectors, limit: int
    ) -> list[IndexHit]:
        """Nearest chunks by cosine similarity (score in [-1, 1]).

        Raises:
            DimensionMismatchError: the query vector's size differs from the stored vectors'.
        """
        ...

    async def lexical_search(
        self, assistant_id: str, embedder_id: str, terms: Sequence[str], limit: int
    ) -> list[IndexHit]:
        """Chunks matching any of the terms, best full-text rank first."""
        ...

    async def delete_document(self, assistant_id: str, document_id: str) -> None:
        """Delete a document from every space of the assistant; a missing one is a no-op."""
        ...

    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete the assistant's whole knowledge base; a missing one is a no-op."""
        ...

    async def ping(self) -> None:
        """Raise `UnavailableError` if the index cannot be reached."""
        ...


@asynccontextmanager
async def open_index(config: IndexConfig) -> AsyncIterator[ChunkIndex]:
    """Open the configured index and close its connections on exit.

    Raises:
        MissingExtraError: the pgvector extra is not installed.
        UnavailableError: the database cannot be reached.
    """
    match config:
        case SqliteIndexConfig():
            from chat_rag.index.sqlite import SqliteChunkIndex  # imported here: keeps the port import light

            sqlite_index = SqliteChunkIndex(config)
            try:
                yield sqlite_index
            finally:
                await sqlite_index.close()
        case PgvectorIndexConfig():
            try:
                from chat_rag.index.pgvector import open_pgvector_index
            except ImportError as exc:
                raise MissingExtraError("The pgvector index", "pip install 'chat-rag[pgvector]'") from exc
            async with open_pgvector_index(config) as index:
                yield index
