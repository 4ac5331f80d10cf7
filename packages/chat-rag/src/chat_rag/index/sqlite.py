"""The embedded index: one SQLite file per assistant under `data_dir/knowledge/`.

Each file holds the assistant's documents, chunks (vectors as float32 BLOBs) and an FTS5 table with
Porter stemming for BM25 ranking. Vector search is exact: the space's vectors are loaded once into a
NumPy matrix (cached, invalidated by a generation counter every write bumps) and multiplied by the
query. Deleting an assistant deletes its file, and no query can reach another assistant's rows.
All SQLite work runs in worker threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from chat_core.errors import ConflictError, UnavailableError
from chat_rag._blas import blas_threads
from chat_rag.chunking import Chunk
from chat_rag.config import SqliteIndexConfig
from chat_rag.embeddings import Vectors
from chat_rag.index import DocumentRecord, IndexHit

__all__ = ["SqliteChunkIndex"]

_T = TypeVar("_T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    embedder_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    chunker_version TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    PRIMARY KEY (embedder_id, document_id)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    embedder_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (embedder_id, document_id, position)
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    space, heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_terms USING fts5vocab(chunks_fts, 'row');
"""
_FTS_SETUP: Final = (
    # The space column only filters: it carries no weight in the BM25 rank.
    "INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(0.0, 1.0, 1.0)')"
)


def _create_database(path: Path, assistant_id: str) -> None:
    """Create the assistant's file with its whole schema, atomically.

    The file is built aside and hard-linked into place, so a reader never sees a file without its
    tables and concurrent first writers never contend on schema creation.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".kb-", suffix=".tmp")
    os.close(handle)
    try:
        connection = sqlite3.connect(temp_name, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
            connection.execute(_FTS_SETUP)
            connection.execute("INSERT INTO meta (key, value) VALUES ('assistant_id', ?)", (assistant_id,))
        finally:
            connection.close()
        try:
            os.link(temp_name, path)
        except FileExistsError:  # JUSTIFICATION: a concurrent writer created the same empty schema first.
            pass
    finally:
        for leftover in (temp_name, f"{temp_name}-wal", f"{temp_name}-shm"):
            if os.path.exists(leftover):
                os.unlink(leftover)


@dataclass(frozen=True, slots=True)
class _Matrix:
    generation: str
    embedder_id: str
    ids: NDArray[np.int64]
    vectors: Vectors


class _MatrixCache:
    """Vector matrices of recently searched knowledge bases, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Path, _Matrix] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, generation: str, embedder_id: str) -> _Matrix | None:
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry.generation != generation or entry.embedder_id != embedder_id:
                return None
            self._entries.move_to_end(path)
            return entry

    def put(self, path: Path, entry: _Matrix) -> None:
        with self._lock:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            while (
                self._entries
                and sum(item.vectors.nbytes for item in self._entries.values()) > self._max_bytes
            ):
                self._entries.popitem(last=False)

    def drop(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(path, None)


class SqliteChunkIndex:
    """`ChunkIndex` on SQLite files in the data directory (the embedded default)."""

    def __init__(self, config: SqliteIndexConfig) -> None:
        self._root = config.data_dir / "knowledge"
        self._cache = _MatrixCache(config.vector_cache_mb * 1024 * 1024)
        self._threads = config.search_threads

    def path_of(self, assistant_id: str) -> Path:
        """The assistant's database file (named by a hash: ids may hold characters unfit for file names)."""
        digest = hashlib.sha256(assistant_id.encode()).hexdigest()[:32]
        return self._root / f"kb-{digest}.sqlite3"

    async def _run(
        self, assistant_id: str, work: Callable[[sqlite3.Connection], _T], *, write: bool, empty: _T
    ) -> _T:
        path = self.path_of(assistant_id)
        return await asyncio.to_thread(self._run_sync, assistant_id, path, work, write, empty)

    def _run_sync(
        self, assistant_id: str, path: Path, work: Callable[[sqlite3.Connection], _T], write: bool, empty: _T
    ) -> _T:
        if not write and not path.exists():
            return empty
        try:
            if write and not path.exists():
                _create_database(path, assistant_id)
            # Every connection opens an existing, complete file (mode=rw): a file deleted meanwhile
            # is an error, never a new empty one.
            connection = sqlite3.connect(
                path.resolve().as_uri() + "?mode=rw", timeout=30, isolation_level=None, uri=True
            )
            try:
                connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = work(connection)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
                return result
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise UnavailableError(f"The knowledge-base file could not be used ({exc}).") from exc
        except OSError as exc:
            raise UnavailableError(f"The knowledge-base directory is not usable ({exc.strerror}).") from exc

    async def active_embedder(self, assistant_id: str) -> str | None:
        """The searched space's embedder id."""
        return await self._run(assistant_id, _active_embedder, write=False, empty=None)

    async def get_document(
        self, assistant_id: str, embedder_id: str, document_id: str
    ) -> DocumentRecord | None:
        """The document's record in a space, or `None`."""

        def work(connection: sqlite3.Connection) -> DocumentRecord | None:
            row = connection.execute(
                "SELECT document_id, file_name, content_hash, chunker_version, chunk_count FROM documents"
                " WHERE embedder_id = ? AND document_id = ?",
                (embedder_id, document_id),
            ).fetchone()
            return DocumentRecord(*row) if row else None

        return await self._run(assistant_id, work, write=False, empty=None)

    async def list_documents(self, assistant_id: str, embedder_id: str) -> list[DocumentRecord]:
        """All documents of a space."""

        def work(connection: sqlite3.Connection) -> list[DocumentRecord]:
            rows = connection.execute(
                "SELECT document_id, file_name, content_hash, chunker_version, chunk_count FROM documents"
                " WHERE embedder_id = ? ORDER BY document_id",
                (embedder_id,),
            ).fetchall()
            return [DocumentRecord(*row) for row in rows]

        return await self._run(assistant_id, work, write=False, empty=[])

    async def get_chunks(self, assistant_id: str, embedder_id: str, document_id: str) -> list[Chunk]:
        """A document's chunks in order."""

        def work(connection: sqlite3.Connection) -> list[Chunk]:
            rows = connection.execute(
                "SELECT position, text, heading_path FROM chunks WHERE embedder_id = ? AND document_id = ?"
                " ORDER BY position",
                (embedder_id, document_id),
            ).fetchall()
            return [Chunk(position, text, tuple(json.loads(path))) for position, text, path in rows]

        return await self._run(assistant_id, work, write=False, empty=[])

    async def put_document(
        self,
        assistant_id: str,
        embedder_id: str,
        document: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        """Replace the document's chunks, vectors and FTS rows in one transaction."""
        assert len(chunks) == len(vectors) == document.chunk_count, "one vector per chunk"
        blobs = [np.ascontiguousarray(row, dtype=np.float32).tobytes() for row in vectors]

        def work(connection: sqlite3.Connection) -> None:
            _delete_document(connection, document.document_id, embedder_id)
            first = connection.execute("SELECT coalesce(max(id), 0) + 1 FROM chunks").fetchone()[0]
            rows = [
                (first + index, embedder_id, document.document_id, document.file_name, chunk.position,
                 json.dumps(list(chunk.heading_path)), chunk.text, blob)
                for index, (chunk, blob) in enumerate(zip(chunks, blobs, strict=True))
            ]  # fmt: skip
            connection.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            connection.executemany(
                "INSERT INTO chunks_fts (rowid, space, heading, text) VALUES (?, ?, ?, ?)",
                [
                    (first + index, _space_token(embedder_id), " > ".join(chunk.heading_path), chunk.text)
                    for index, chunk in enumerate(chunks)
                ],
            )
            connection.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
                (embedder_id, document.document_id, document.file_name, document.content_hash,
                 document.chunker_version, document.chunk_count),
            )  # fmt: skip
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('active_embedder', ?)", (embedder_id,)
            )
            _bump_generation(connection)

        await self._run(assistant_id, work, write=True, empty=None)

    async def activate(self, assistant_id: str, embedder_id: str, *, previous: str) -> None:
        """Switch the searched space and drop the previous one, in one transaction."""

        def work(connection: sqlite3.Connection) -> None:
            active = _active_embedder(connection)
            if active == embedder_id:
                return
            if active != previous:
                raise ConflictError(
                    f"The knowledge base of {assistant_id!r} was switched to {active!r} meanwhile."
                )
            connection.execute("UPDATE meta SET value = ? WHERE key = 'active_embedder'", (embedder_id,))
            _delete_space(connection, previous)
            _bump_generation(connection)

        await self._run(assistant_id, work, write=True, empty=None)

    async def drop_space(self, assistant_id: str, embedder_id: str) -> None:
        """Remove an inactive space."""

        def work(connection: sqlite3.Connection) -> None:
            assert _active_embedder(connection) != embedder_id, "the active space is never dropped"
            _delete_space(connection, embedder_id)
            _bump_generation(connection)

        if self.path_of(assistant_id).exists():
            await self._run(assistant_id, work, write=True, empty=None)

    async def vector_search(
        self, assistant_id: str, embedder_id: str, vector: Vectors, limit: int
    ) -> list[IndexHit]:
        """Exact cosine search over the space's vectors."""
        path = self.path_of(assistant_id)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)

        def work(connection: sqlite3.Connection) -> list[IndexHit]:
            matrix = self._matrix(connection, path, embedder_id)
            if not len(matrix.ids):
                return []
            if matrix.vectors.shape[1] != query.shape[0]:
                raise UnavailableError(
                    f"Query has {query.shape[0]} dimensions but the index holds {matrix.vectors.shape[1]}."
                )
            with blas_threads(self._threads):
                scores = matrix.vectors @ query
            count = min(limit, len(scores))
            top = np.argpartition(-scores, count - 1)[:count]
            top = top[np.argsort(-scores[top], kind="stable")]
            by_id = {int(matrix.ids[index]): float(scores[index]) for index in top}
            rows = connection.execute(
                "SELECT c.id, c.document_id, c.file_name, c.position, c.heading_path, c.text FROM chunks c"
                " WHERE c.id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(by_id)),),
            ).fetchall()
            hits = [_hit(row[1:], by_id[row[0]]) for row in rows]
            return sorted(hits, key=lambda hit: -hit.score)

        return await self._run(assistant_id, work, write=False, empty=[])

    def _matrix(self, connection: sqlite3.Connection, path: Path, embedder_id: str) -> _Matrix:
        generation = _generation(connection)
        cached = self._cache.get(path, generation, embedder_id)
        if cached is not None:
            return cached
        rows = connection.execute(
            "SELECT id, vector FROM chunks WHERE embedder_id = ? ORDER BY id", (embedder_id,)
        ).fetchall()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        if rows:
            flat = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
            vectors = flat.reshape(len(rows), -1)
        else:
            vectors = np.zeros((0, 0), dtype=np.float32)
        entry = _Matrix(generation, embedder_id, ids, vectors)
        self._cache.put(path, entry)
        return entry

    async def lexical_search(
        self, assistant_id: str, embedder_id: str, terms: Sequence[str], limit: int
    ) -> list[IndexHit]:
        """BM25 over headings and text (FTS5, Porter stemming); any term may match.

        Terms found in more than half of the chunks are dropped first (when a rarer term remains):
        FTS5's BM25 gives them an IDF of zero, so they cannot change the order, but ranking every chunk
        they match is what makes a disjunctive query slow on a large knowledge base.
        """
        if not terms:
            return []

        def work(connection: sqlite3.Connection) -> list[IndexHit]:
            selective = _selective_terms(connection, terms)
            match = f"space : {_space_token(embedder_id)} AND {{heading text}} : ({_any_of(selective)})"
            rows = connection.execute(
                "SELECT c.document_id, c.file_name, c.position, c.heading_path, c.text, f.rank FROM"
                " (SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?) AS f"
                " JOIN chunks c ON c.id = f.rowid ORDER BY f.rank",
                (match, limit),
            ).fetchall()
            return [_hit(row[:5], -float(row[5])) for row in rows]

        return await self._run(assistant_id, work, write=False, empty=[])

    async def delete_document(self, assistant_id: str, document_id: str) -> None:
        """Delete the document from every space of this assistant's file."""

        def work(connection: sqlite3.Connection) -> None:
            _delete_document(connection, document_id, None)
            _bump_generation(connection)

        if self.path_of(assistant_id).exists():
            await self._run(assistant_id, work, write=True, empty=None)

    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete the assistant's database file (and its WAL)."""
        path = self.path_of(assistant_id)
        self._cache.drop(path)

        def unlink() -> None:
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)

        try:
            await asyncio.to_thread(unlink)
        except OSError as exc:
            raise UnavailableError(f"The knowledge base could not be deleted ({exc.strerror}).") from exc

    async def ping(self) -> None:
        """Check that the data directory can hold knowledge-base files."""

        def check() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".ping-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()

        try:
            await asyncio.to_thread(check)
        except OSError as exc:
            raise UnavailableError(f"The knowledge-base directory is not writable ({exc.strerror}).") from exc


def _active_embedder(connection: sqlite3.Connection) -> str | None:
    if not _has_schema(connection):
        return None
    row = connection.execute("SELECT value FROM meta WHERE key = 'active_embedder'").fetchone()
    return str(row[0]) if row else None


def _has_schema(connection: sqlite3.Connection) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    return row is not None


def _generation(connection: sqlite3.Connection) -> str:
    row = connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return str(row[0]) if row else "0"


def _bump_generation(connection: sqlite3.Connection) -> None:
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _delete_document(connection: sqlite3.Connection, document_id: str, embedder_id: str | None) -> None:
    """Delete a document from one space, or from every space when `embedder_id` is `None`."""
    params = (document_id, embedder_id)
    connection.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks"
        " WHERE document_id = ?1 AND (?2 IS NULL OR embedder_id = ?2))",
        params,
    )
    connection.execute(
        "DELETE FROM chunks WHERE document_id = ?1 AND (?2 IS NULL OR embedder_id = ?2)", params
    )
    connection.execute(
        "DELETE FROM documents WHERE document_id = ?1 AND (?2 IS NULL OR embedder_id = ?2)", params
    )


def _delete_space(connection: sqlite3.Connection, embedder_id: str) -> None:
    connection.execute(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE embedder_id = ?)", (embedder_id,)
    )
    connection.execute("DELETE FROM chunks WHERE embedder_id = ?", (embedder_id,))
    connection.execute("DELETE FROM documents WHERE embedder_id = ?", (embedder_id,))


def _space_token(embedder_id: str) -> str:
    """One FTS token naming a space, so the full-text query itself stays within the active space."""
    return "s" + hashlib.sha256(embedder_id.encode()).hexdigest()[:16]


def _any_of(terms: Sequence[str]) -> str:
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _selective_terms(connection: sqlite3.Connection, terms: Sequence[str]) -> Sequence[str]:
    total = connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
    if len(terms) < 2 or total < 1000:
        return terms
    # The vocabulary holds stemmed terms, so an inflected query word is simply never dropped.
    frequent = {
        term
        for term in terms
        if connection.execute(
            "SELECT 1 FROM chunks_terms WHERE term = ? AND doc > ?", (term, total // 2)
        ).fetchone()
    }
    return [term for term in terms if term not in frequent] or terms


def _hit(row: Sequence[object], score: float) -> IndexHit:
    document_id, file_name, position, heading_path, text = row
    return IndexHit(
        document_id=str(document_id),
        file_name=str(file_name),
        position=int(str(position)),
        heading_path=tuple(json.loads(str(heading_path))),
        text=str(text),
        score=score,
    )
