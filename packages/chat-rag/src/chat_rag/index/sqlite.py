"""The embedded index: one SQLite file per assistant under `data_dir/knowledge/`.

Each file holds the assistant's documents, chunks (vectors as float32 BLOBs) and an FTS5 table with
Porter stemming, and it is the only source of truth. A small space is searched from the table: FTS5
ranks the full-text matches and one NumPy product scans the vectors. A space of `snapshot_min_chunks`
or more is searched through a *snapshot*, files beside the database built in the background from one
read transaction: BM25 postings read from FTS5's own index and scored in NumPy (`_postings`), and an
HNSW graph of the vectors (`_hnsw`, extra `chat-rag[ann]`). Chunk ids are never reused, so the rows
added since the snapshot are exactly those above its highest id (tokenized and scanned here, beside
the snapshot) and the rows deleted since are its ids missing from the table (masked out). When either
grows past a tenth of the snapshot, it is rebuilt and swapped in by one committed pointer; a process
that finds a pointed-to file gone simply reads the pointer again. Every process sharing the data
directory uses the same snapshot; a file lock lets one of them build it.

Connections are pooled per file and all SQLite work runs in worker threads. SQLite errors are
translated in one place (`_translate_errors`): their text goes to the log, never into a message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from chat_core.errors import ChatError, ConflictError, InternalError, UnavailableError
from chat_rag._blas import blas_threads
from chat_rag.chunking import Chunk
from chat_rag.config import SqliteIndexConfig
from chat_rag.embeddings import Vectors
from chat_rag.errors import DimensionMismatchError
from chat_rag.index import DocumentRecord, IndexHit, _hnsw, _postings

__all__ = ["SqliteChunkIndex"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)

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
CREATE INDEX IF NOT EXISTS chunks_by_space ON chunks (embedder_id, id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    space, heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_terms USING fts5vocab(chunks_fts, 'row');
"""
_FTS_SETUP: Final = (
    # The space column only filters: it carries no weight in the BM25 rank.
    "INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(0.0, 1.0, 1.0)')"
)
# Files made by 1.0.0 lack this index; writers add it once (a no-op on newer files).
_MIGRATION: Final = "CREATE INDEX IF NOT EXISTS chunks_by_space ON chunks (embedder_id, id)"
_REBUILD_SHARE: Final = 0.1
"""Rebuild a graph when the rows added or deleted since its snapshot exceed this share of it."""
_RETRY_FAILED_BUILD_AFTER: Final = 300.0
_MAX_IDLE_CONNECTIONS: Final = 32

# SQLite's primary result codes that mean "try again later": contention, I/O, a full disk.
_UNAVAILABLE_CODES: Final = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_PROTOCOL"}
)
_DUPLICATE_CODES: Final = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


def _is_unavailable(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if any(name == code or name.startswith(code + "_") for code in _UNAVAILABLE_CODES):
        return True
    text = str(exc).lower()
    return "database is locked" in text or "disk i/o error" in text or "unable to open" in text


@contextmanager
def _translate_errors() -> Iterator[None]:
    """Translate SQLite and file-system errors raised inside the block into `chat_core.errors`.

    Raises:
        UnavailableError: the file is locked past the busy timeout, unreadable, or the disk failed.
        ConflictError: a primary-key or unique constraint refused a duplicate.
        InternalError: any other SQLite error (a bug or a corrupt file).
    """
    try:
        yield
    except ChatError:
        raise
    except sqlite3.IntegrityError as exc:
        _log.warning("knowledge-base write refused: %s (%s)", exc, getattr(exc, "sqlite_errorname", ""))
        if getattr(exc, "sqlite_errorname", "") in _DUPLICATE_CODES:
            raise ConflictError("The knowledge base already holds a record with the same key.") from exc
        raise InternalError("The knowledge base refused a write.") from exc
    except sqlite3.Error as exc:
        _log.warning("knowledge-base SQLite error: %s (%s)", exc, getattr(exc, "sqlite_errorname", ""))
        if _is_unavailable(exc):
            raise UnavailableError("The knowledge base is busy or its storage is unavailable.") from exc
        raise InternalError("The knowledge base failed.") from exc
    except OSError as exc:
        _log.warning("knowledge-base file error: %s", exc)
        raise UnavailableError("The knowledge-base storage is unavailable.") from exc


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


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino


def _same_file(path: Path, identity: tuple[int, int]) -> bool:
    try:
        return _identity(path) == identity
    except FileNotFoundError:  # JUSTIFICATION: a deleted file is not the file we opened.
        return False


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # An existing, complete file only (mode=rw): a file deleted meanwhile is an error, never a new one.
    connection = sqlite3.connect(
        path.resolve().as_uri() + "?mode=rw",
        timeout=busy_timeout,
        isolation_level=None,
        uri=True,
        check_same_thread=False,
    )
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


class _Connections:
    """Idle connections per knowledge-base file, reused while the file on disk is the same one."""

    def __init__(self, max_idle: int, busy_timeout: float) -> None:
        self._max_idle = max_idle
        self._busy_timeout = busy_timeout
        self._idle: OrderedDict[Path, list[tuple[tuple[int, int], sqlite3.Connection]]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, path: Path) -> tuple[tuple[int, int], sqlite3.Connection]:
        identity = _identity(path)
        stale: list[sqlite3.Connection] = []
        found: sqlite3.Connection | None = None
        with self._lock:
            entries = self._idle.get(path, [])
            while entries and found is None:
                known, connection = entries.pop()
                if known == identity:
                    found = connection
                else:
                    stale.append(connection)
        for connection in stale:
            connection.close()
        return identity, found if found is not None else _connect(path, self._busy_timeout)

    def release(self, path: Path, identity: tuple[int, int], connection: sqlite3.Connection) -> None:
        if connection.in_transaction:
            connection.close()
            return
        evicted: list[sqlite3.Connection] = []
        with self._lock:
            self._idle.setdefault(path, []).append((identity, connection))
            self._idle.move_to_end(path)
            while sum(len(entries) for entries in self._idle.values()) > self._max_idle:
                _, entries = next(iter(self._idle.items()))
                evicted.append(entries.pop(0)[1])
                if not entries:
                    self._idle.popitem(last=False)
        for old in evicted:
            old.close()

    def close(self, path: Path | None = None) -> None:
        with self._lock:
            if path is None:
                closing = [connection for entries in self._idle.values() for _, connection in entries]
                self._idle.clear()
            else:
                closing = [connection for _, connection in self._idle.pop(path, [])]
        for connection in closing:
            connection.close()


@dataclasses.dataclass(frozen=True, slots=True)
class _Pointer:
    """The files of a space's snapshot, committed in the knowledge-base file once they are complete."""

    terms: str
    """BM25 postings (`_postings.Postings`)."""
    graph: str | None
    """The HNSW graph, when the `ann` extra was installed where the snapshot was built."""
    watermark: int
    """The highest chunk id ever assigned when the snapshot was taken: later rows have higher ids."""
    count: int
    """Rows in the snapshot."""


@dataclasses.dataclass(slots=True)
class _Space:
    """What search needs of one space at one generation of its file."""

    version: tuple[str, str]
    pointer: _Pointer | None
    graph: _hnsw.Graph | None
    terms: _postings.Postings | None
    alive: NDArray[np.bool_] | None
    """Which snapshot rows still exist (`None`: all of them)."""
    vector_ids: NDArray[np.int64]
    """Rows searched exactly: those after the snapshot, or every row when there is no graph."""
    vectors: Vectors
    recent_terms: _postings.Postings | None
    """Postings of the rows after the snapshot (tokenized here)."""
    recent_tokens: dict[int, list[str]]
    dimensions: int | None

    @property
    def nbytes(self) -> int:
        graph = 0 if self.graph is None else len(self.graph.keys) * (self.graph.dimensions * 4 + 160)
        terms = 0 if self.terms is None else self.terms.nbytes
        return int(self.vectors.nbytes) + graph + terms

    @property
    def graph_live(self) -> int:
        return 0 if self.graph is None else len(self.graph.keys) - self.graph.removed

    @property
    def added(self) -> int:
        """Rows after the snapshot (or every row when there is none)."""
        if self.pointer is None:
            return len(self.vector_ids)
        return 0 if self.recent_terms is None else len(self.recent_terms.ids)

    @property
    def deleted(self) -> int:
        """Snapshot rows deleted since."""
        return 0 if self.alive is None else int((~self.alive).sum())


class _SpaceCache:
    """Loaded spaces of recently searched knowledge bases, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Path, str], _Space] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, embedder_id: str) -> _Space | None:
        with self._lock:
            entry = self._entries.get((path, embedder_id))
            if entry is not None:
                self._entries.move_to_end((path, embedder_id))
            return entry

    def put(self, path: Path, embedder_id: str, entry: _Space) -> None:
        with self._lock:
            self._entries[(path, embedder_id)] = entry
            self._entries.move_to_end((path, embedder_id))
            while (
                len(self._entries) > 1
                and sum(item.nbytes for item in self._entries.values()) > self._max_bytes
            ):
                self._entries.popitem(last=False)

    def drop(self, path: Path) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == path]:
                del self._entries[key]


class _SnapshotMissing(Exception):
    """A file a committed snapshot pointer names was replaced meanwhile: search again."""


class SqliteChunkIndex:
    """`ChunkIndex` on SQLite files in the data directory (the embedded default)."""

    def __init__(self, config: SqliteIndexConfig) -> None:
        self._root = config.data_dir / "knowledge"
        self._config = config
        self._spaces = _SpaceCache(config.vector_cache_mb * 1024 * 1024)
        self._connections = _Connections(_MAX_IDLE_CONNECTIONS, config.busy_timeout)
        self._graphs_enabled = _hnsw.available()
        self._warned_missing_extra = False
        self._loading: dict[tuple[Path, str], threading.Lock] = {}
        self._builds: dict[tuple[Path, str], threading.Thread] = {}
        self._failed_builds: dict[tuple[Path, str], float] = {}
        self._builds_lock = threading.Lock()
        self._closing = False
        self._migrated: set[Path] = set()

    def path_of(self, assistant_id: str) -> Path:
        """The assistant's database file (named by a hash: ids may hold characters unfit for file names)."""
        digest = hashlib.sha256(assistant_id.encode()).hexdigest()[:32]
        return self._root / f"kb-{digest}.sqlite3"

    async def close(self) -> None:
        """Stop snapshot builds (a build ends at its next batch) and close the connections."""
        self._closing = True
        await asyncio.to_thread(self._join_builds)
        self._connections.close()

    async def wait_for_snapshots(self) -> None:
        """Wait until the snapshot builds started so far have finished (for tests and benchmarks)."""
        await asyncio.to_thread(self._join_builds)

    def _join_builds(self) -> None:
        while True:
            with self._builds_lock:
                running = list(self._builds.values())
            if not running:
                return
            for thread in running:
                thread.join()

    async def _run(
        self, assistant_id: str, work: Callable[[sqlite3.Connection], _T], *, write: bool, empty: _T
    ) -> _T:
        path = self.path_of(assistant_id)
        return await asyncio.to_thread(self._run_sync, assistant_id, path, work, write, empty)

    def _run_sync(
        self, assistant_id: str, path: Path, work: Callable[[sqlite3.Connection], _T], write: bool, empty: _T
    ) -> _T:
        with _translate_errors():
            if write and not path.exists():
                _create_database(path, assistant_id)
            try:
                identity, connection = self._connections.acquire(path)
            except FileNotFoundError:
                if write:
                    raise
                return empty
            try:
                if write and path not in self._migrated:
                    connection.execute(_MIGRATION)
                    self._migrated.add(path)
                connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = work(connection)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
                return result
            finally:
                self._connections.release(path, identity, connection)

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
        """Replace the document's chunks, vectors and FTS rows in one transaction.

        Raises:
            DimensionMismatchError: the space already holds vectors of another size.
        """
        assert len(chunks) == len(vectors) == document.chunk_count, "one vector per chunk"
        blobs = [np.ascontiguousarray(row, dtype=np.float32).tobytes() for row in vectors]

        def work(connection: sqlite3.Connection) -> None:
            stored = _stored_dimensions(connection, embedder_id)
            if blobs and stored is not None and stored != len(blobs[0]) // 4:
                raise DimensionMismatchError(stored, len(blobs[0]) // 4)
            _delete_document(connection, document.document_id, embedder_id)
            first = _claim_ids(connection, len(chunks))
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
        await asyncio.to_thread(self._remove_snapshot_files, self.path_of(assistant_id), previous, None)

    async def drop_space(self, assistant_id: str, embedder_id: str) -> None:
        """Remove an inactive space."""

        def work(connection: sqlite3.Connection) -> None:
            assert _active_embedder(connection) != embedder_id, "the active space is never dropped"
            _delete_space(connection, embedder_id)
            _bump_generation(connection)

        path = self.path_of(assistant_id)
        if path.exists():
            await self._run(assistant_id, work, write=True, empty=None)
            await asyncio.to_thread(self._remove_snapshot_files, path, embedder_id, None)

    async def vector_search(
        self, assistant_id: str, embedder_id: str, vector: Vectors, limit: int
    ) -> list[IndexHit]:
        """Cosine search: exact for a small space, through its HNSW graph and the rows added since above.

        Raises:
            DimensionMismatchError: the query vector's size differs from the stored vectors'.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(-1)

        def search(connection: sqlite3.Connection, space: _Space) -> list[IndexHit]:
            if space.dimensions is None:
                return []
            if space.dimensions != query.shape[0]:
                raise DimensionMismatchError(space.dimensions, query.shape[0])
            ids, scores = self._nearest(space, query, limit)
            return _hits_by_id(connection, ids, scores)

        return await self._search(assistant_id, embedder_id, search)

    async def lexical_search(
        self, assistant_id: str, embedder_id: str, terms: Sequence[str], limit: int
    ) -> list[IndexHit]:
        """BM25 over headings and text (Porter stemming); any term may match.

        A large space is scored from its snapshot's postings (and the rows added since) in NumPy. A
        small one is ranked by FTS5, after dropping the terms found in more than half of the chunks
        when a rarer term remains: BM25 gives them an IDF of zero, so they cannot change the order,
        but ranking every chunk they match is what makes a disjunctive FTS5 query slow.
        """
        if not terms:
            return []

        def search(connection: sqlite3.Connection, space: _Space) -> list[IndexHit]:
            if space.terms is not None:
                parts = [(space.terms, space.alive)]
                if space.recent_terms is not None:
                    parts.append((space.recent_terms, None))
                ids, scores = _postings.bm25(_postings.query_stems(terms), parts, limit)
                return _hits_by_id(connection, ids, scores)
            selective = _selective_terms(connection, terms)
            match = f"space : {_space_token(embedder_id)} AND {{heading text}} : ({_any_of(selective)})"
            rows = connection.execute(
                "SELECT c.document_id, c.file_name, c.position, c.heading_path, c.text, f.rank FROM"
                " (SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?) AS f"
                " JOIN chunks c ON c.id = f.rowid ORDER BY f.rank",
                (match, limit),
            ).fetchall()
            return [_hit(row[:5], -float(row[5])) for row in rows]

        return await self._search(assistant_id, embedder_id, search)

    async def _search(
        self,
        assistant_id: str,
        embedder_id: str,
        search: Callable[[sqlite3.Connection, _Space], list[IndexHit]],
    ) -> list[IndexHit]:
        """Run `search` over the space as of one read transaction."""
        path = self.path_of(assistant_id)

        def work(connection: sqlite3.Connection, *, missing_ok: bool) -> list[IndexHit]:
            return search(connection, self._space(connection, path, embedder_id, missing_ok=missing_ok))

        try:
            return await self._run(
                assistant_id, functools.partial(work, missing_ok=False), write=False, empty=[]
            )
        except _SnapshotMissing:
            # JUSTIFICATION: a rebuild replaced the snapshot's files meanwhile: search with the new ones.
            # If a file is really gone, the second search uses the table alone until the next rebuild.
            return await self._run(
                assistant_id, functools.partial(work, missing_ok=True), write=False, empty=[]
            )

    def _nearest(
        self, space: _Space, query: NDArray[np.float32], limit: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The `limit` best (id, similarity) pairs of the graph and the exact rows together, best first."""
        ids: list[NDArray[np.int64]] = []
        scores: list[NDArray[np.float32]] = []
        if space.graph is not None and space.graph_live:
            keys, similarities = space.graph.search(query, min(limit, space.graph_live))
            ids.append(keys)
            scores.append(similarities)
        if len(space.vector_ids):
            with blas_threads(self._config.search_threads):
                similarities = space.vectors @ query
            count = min(limit, len(similarities))
            top = np.argpartition(-similarities, count - 1)[:count]
            ids.append(space.vector_ids[top])
            scores.append(similarities[top])
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
        order = np.argsort(-all_scores, kind="stable")[:limit]
        return all_ids[order], all_scores[order]

    def _space(
        self, connection: sqlite3.Connection, path: Path, embedder_id: str, *, missing_ok: bool
    ) -> _Space:
        """The space as of this transaction: from the cache, or loaded (and a rebuild started if due)."""
        version = _space_version(connection, embedder_id)
        cached = self._spaces.get(path, embedder_id)
        if cached is not None and cached.version == version:
            return cached
        with self._loading.setdefault((path, embedder_id), threading.Lock()):
            cached = self._spaces.get(path, embedder_id)
            if cached is not None and cached.version == version:
                return cached
            space, unusable = self._load_space(connection, path, embedder_id, version, cached, missing_ok)
            self._spaces.put(path, embedder_id, space)
        self._consider_snapshot(path, embedder_id, space, replace=unusable)
        return space

    def _load_space(
        self,
        connection: sqlite3.Connection,
        path: Path,
        embedder_id: str,
        version: tuple[str, str],
        cached: _Space | None,
        missing_ok: bool,
    ) -> tuple[_Space, bool]:
        """Load a space, reusing what `cached` (an older generation) loaded from the same snapshot."""
        pointer = _Pointer(**json.loads(version[1])) if version[1] else None
        same = cached is not None and pointer is not None and cached.pointer == pointer
        graph = cached.graph if same and cached is not None else None
        terms = cached.terms if same and cached is not None else None
        unusable = False
        if pointer is not None and not same:
            terms = _load_file(_postings.Postings.load, path.with_name(pointer.terms), missing_ok)
            if pointer.graph is not None and self._graphs_enabled and terms is not None:
                graph = _load_file(_hnsw.Graph, path.with_name(pointer.graph), missing_ok)
            # A snapshot built where usearch is missing has no graph: a process that has it adds one.
            unusable = terms is None or (self._graphs_enabled and graph is None)
        if terms is None:
            pointer, graph = None, None
        alive: NDArray[np.bool_] | None = None
        if pointer is not None and terms is not None:
            alive = _snapshot_alive(connection, embedder_id, pointer, terms.ids)
            if graph is not None and alive is not None:
                graph.remove(terms.ids[~alive])
        after = pointer.watermark if pointer is not None else 0
        vector_ids, vectors = _vectors_after(connection, embedder_id, after if graph is not None else 0)
        recent_terms = None
        recent_tokens: dict[int, list[str]] = {}
        if pointer is not None and terms is not None:
            known = cached.recent_tokens if same and cached is not None else {}
            recent_ids, recent_tokens = _tokens_after(connection, embedder_id, after, known)
            recent_terms = _postings.Postings.from_tokens(
                recent_ids,
                [recent_tokens[int(chunk_id)] for chunk_id in recent_ids],
                average_length=terms.average_length,
            )
        dimensions = (
            graph.dimensions if graph is not None else (vectors.shape[1] if len(vector_ids) else None)
        )
        if dimensions is None and pointer is not None:
            dimensions = _stored_dimensions(connection, embedder_id)
        space = _Space(
            version,
            pointer,
            graph,
            terms,
            alive,
            vector_ids,
            vectors,
            recent_terms,
            recent_tokens,
            dimensions,
        )
        return space, unusable

    def _consider_snapshot(self, path: Path, embedder_id: str, space: _Space, *, replace: bool) -> None:
        """Start a background build when the space is large enough, its snapshot drifted or is unusable."""
        minimum = self._config.snapshot_min_chunks
        if minimum is None:
            return
        size = 0 if space.pointer is None else space.pointer.count
        if replace or _build_due(size, space.added, space.deleted, minimum):
            if not self._graphs_enabled and not self._warned_missing_extra:
                self._warned_missing_extra = True
                _log.warning(
                    "a knowledge base reached %d chunks: install chat-rag[ann] to search its vectors through"
                    " an HNSW graph instead of exactly",
                    minimum,
                )
            self._start_build(path, embedder_id, replace=replace)

    def _start_build(self, path: Path, embedder_id: str, *, replace: bool) -> None:
        key = (path, embedder_id)
        with self._builds_lock:
            failed = self._failed_builds.get(key)
            if self._closing or key in self._builds:
                return
            if failed is not None and time.monotonic() - failed < _RETRY_FAILED_BUILD_AFTER:
                return
            thread = threading.Thread(
                target=self._build, args=(path, embedder_id, replace), name="chat-rag-snapshot", daemon=True
            )
            self._builds[key] = thread
            thread.start()

    def _build(self, path: Path, embedder_id: str, replace: bool) -> None:
        try:
            self._build_snapshot(path, embedder_id, replace=replace)
            self._failed_builds.pop((path, embedder_id), None)
        except Exception:
            # JUSTIFICATION: a snapshot only speeds searches up; the table serves them meanwhile.
            _log.exception("building the search snapshot of %s failed; searches use the table", path.name)
            self._failed_builds[(path, embedder_id)] = time.monotonic()
        finally:
            with self._builds_lock:
                self._builds.pop((path, embedder_id), None)

    def _build_snapshot(self, path: Path, embedder_id: str, *, replace: bool) -> None:
        """Snapshot the space, write its files aside, and commit a pointer to them (one process at a time).

        The need is checked again under the lock: another process may have just built it. `replace`
        builds anyway (this process could not read the current files).
        """
        minimum = self._config.snapshot_min_chunks
        assert minimum is not None
        stem = f"{path.stem}.{_space_token(embedder_id)}"
        with open(path.with_name(f"{stem}.lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # JUSTIFICATION: another process is building this snapshot right now.
                return
            identity = _identity(path)
            connection = _connect(path, self._config.busy_timeout)
            try:
                changed, committed = self._write_snapshot(
                    connection, path, stem, embedder_id, minimum, replace
                )
            finally:
                connection.close()
        if not changed:
            return
        if committed is not None and not _same_file(path, identity):
            committed = None  # the assistant was deleted meanwhile: its files go too
        self._remove_snapshot_files(path, embedder_id, keep=committed)

    def _write_snapshot(
        self,
        connection: sqlite3.Connection,
        path: Path,
        stem: str,
        embedder_id: str,
        minimum: int,
        replace: bool,
    ) -> tuple[bool, _Pointer | None]:
        """Build and commit a snapshot if one is due: (whether the pointer changed, the new pointer)."""
        connection.execute(_MIGRATION)
        connection.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_instances USING fts5vocab(main, chunks_fts, 'instance')"
        )
        connection.execute("BEGIN")
        try:
            _, pointer_text = _space_version(connection, embedder_id)
            pointer = _Pointer(**json.loads(pointer_text)) if pointer_text else None
            size, added, deleted = _drift(connection, embedder_id, pointer)
            lost = pointer is not None and not path.with_name(pointer.terms).exists()
            if not (replace or lost or _build_due(size, added, deleted, minimum)):
                return False, None
            watermark = _last_id(connection)
            ids = np.array(
                [
                    row[0]
                    for row in connection.execute(
                        "SELECT id FROM chunks WHERE embedder_id = ? ORDER BY id", (embedder_id,)
                    )
                ],
                dtype=np.int64,
            )
            vectors = _vectors_after(connection, embedder_id, 0)[1] if self._graphs_enabled else None
            members = {int(chunk_id): row for row, chunk_id in enumerate(ids.tolist())}
            instances = connection.execute(
                "SELECT term, doc, count(*) FROM temp.chunks_instances WHERE col <> 'space' GROUP BY term, doc"
            )
            triples = [(term, members[doc], count) for term, doc, count in instances if doc in members]
        finally:
            connection.execute("COMMIT")
        name = f"{stem}.{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        if len(ids) < minimum // 2:  # the space shrank: the table serves it alone
            snapshot = None
        else:
            postings = _postings.Postings.build(ids, triples)
            del triples
            snapshot = _Pointer(f"{name}.terms.npz", None, watermark, len(ids))
            _write_aside(path.with_name(snapshot.terms), postings.save)
            if vectors is not None:
                graph_name = f"{name}.hnsw"
                if not _write_aside(
                    path.with_name(graph_name),
                    functools.partial(
                        _hnsw.build,
                        ids,
                        vectors,
                        threads=self._config.ann_build_threads,
                        stop=lambda: self._closing,
                    ),
                ):
                    path.with_name(snapshot.terms).unlink(missing_ok=True)
                    return False, None
                snapshot = dataclasses.replace(snapshot, graph=graph_name)
        connection.execute("BEGIN IMMEDIATE")
        if snapshot is None:
            connection.execute("DELETE FROM meta WHERE key = ?", (_snapshot_key(embedder_id),))
        else:
            connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_snapshot_key(embedder_id), json.dumps(dataclasses.asdict(snapshot))),
            )
        connection.execute("COMMIT")
        _log.info(
            "search snapshot of %s: %d chunks in %.1f s", path.name, len(ids), time.perf_counter() - started
        )
        return True, snapshot

    def _remove_snapshot_files(self, path: Path, embedder_id: str, keep: _Pointer | None) -> None:
        """Delete a space's snapshot files but those of `keep` (processes that loaded one hold a copy)."""
        kept = {keep.terms, keep.graph} if keep is not None else set()
        for leftover in path.parent.glob(f"{path.stem}.{_space_token(embedder_id)}.*"):
            if leftover.name not in kept and not leftover.name.endswith(".lock"):
                leftover.unlink(missing_ok=True)

    async def delete_document(self, assistant_id: str, document_id: str) -> None:
        """Delete the document from every space of this assistant's file."""

        def work(connection: sqlite3.Connection) -> None:
            _delete_document(connection, document_id, None)
            _bump_generation(connection)

        if self.path_of(assistant_id).exists():
            await self._run(assistant_id, work, write=True, empty=None)

    async def delete_assistant(self, assistant_id: str) -> None:
        """Delete the assistant's database file, its WAL and its graphs."""
        path = self.path_of(assistant_id)
        self._spaces.drop(path)
        self._connections.close(path)

        def unlink() -> None:
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            for leftover in path.parent.glob(f"{path.stem}.*"):
                leftover.unlink(missing_ok=True)

        with _translate_errors():
            await asyncio.to_thread(unlink)

    async def ping(self) -> None:
        """Check that the data directory can hold knowledge-base files."""

        def check() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".ping-{threading.get_ident()}"
            probe.write_bytes(b"")
            probe.unlink()

        with _translate_errors():
            await asyncio.to_thread(check)


def _active_embedder(connection: sqlite3.Connection) -> str | None:
    if not _has_schema(connection):
        return None
    row = connection.execute("SELECT value FROM meta WHERE key = 'active_embedder'").fetchone()
    return str(row[0]) if row else None


def _has_schema(connection: sqlite3.Connection) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    return row is not None


def _snapshot_key(embedder_id: str) -> str:
    return f"snapshot:{_space_token(embedder_id)}"


def _space_version(connection: sqlite3.Connection, embedder_id: str) -> tuple[str, str]:
    """The file's write generation and the space's snapshot pointer ("" when it has none)."""
    values = dict(
        connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('generation', ?)", (_snapshot_key(embedder_id),)
        ).fetchall()
    )
    return str(values.get("generation", "0")), str(values.get(_snapshot_key(embedder_id), ""))


def _bump_generation(connection: sqlite3.Connection) -> None:
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _last_id(connection: sqlite3.Connection) -> int:
    """The highest chunk id ever assigned in this file (ids are never reused)."""
    row = connection.execute(
        "SELECT max(coalesce((SELECT max(id) FROM chunks), 0),"
        " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_chunk_id'), 0))"
    ).fetchone()
    return int(row[0])


def _claim_ids(connection: sqlite3.Connection, count: int) -> int:
    """Reserve `count` new chunk ids; returns the first. Never reuses the ids of deleted chunks."""
    first = _last_id(connection) + 1
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('last_chunk_id', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(first + count - 1),),
    )
    return first


def _stored_dimensions(connection: sqlite3.Connection, embedder_id: str) -> int | None:
    row = connection.execute(
        "SELECT length(vector) FROM chunks WHERE embedder_id = ? LIMIT 1", (embedder_id,)
    ).fetchone()
    return None if row is None else int(row[0]) // 4


def _drift(
    connection: sqlite3.Connection, embedder_id: str, pointer: _Pointer | None
) -> tuple[int, int, int]:
    """(rows in the snapshot, rows added since, snapshot rows deleted since), from SQL counts."""
    watermark = pointer.watermark if pointer else 0
    kept, added = connection.execute(
        "SELECT count(*) FILTER (WHERE id <= ?1), count(*) FILTER (WHERE id > ?1) FROM chunks"
        " WHERE embedder_id = ?2",
        (watermark, embedder_id),
    ).fetchone()
    if pointer is None:
        return 0, int(added), 0
    return pointer.count, int(added), pointer.count - int(kept)


def _build_due(size: int, added: int, deleted: int, minimum: int) -> bool:
    """Whether to (re)build a snapshot: none yet at `minimum` rows, or drifted by a tenth of it."""
    if size == 0:
        return added >= minimum
    return added + deleted > _REBUILD_SHARE * size


def _load_file(load: Callable[[Path], _T], path: Path, missing_ok: bool) -> _T | None:
    """A snapshot file, loaded; `None` (use the table) when unreadable, or missing and `missing_ok`."""
    try:
        return load(path)
    except FileNotFoundError as exc:
        if not missing_ok:
            raise _SnapshotMissing from exc
        _log.warning("the search snapshot file %s is missing; searching the table", path.name)
        return None
    except (OSError, RuntimeError, ValueError, KeyError):  # JUSTIFICATION: a derived file; the table serves.
        _log.exception("the search snapshot file %s is unreadable; searching the table", path.name)
        return None


def _write_aside(target: Path, write: Callable[[Path], object]) -> bool:
    """Write a file through a temporary name, so a reader never sees a partial one; False if `write` was."""
    partial = target.with_name(target.name + ".tmp")
    try:
        if write(partial) is False:
            return False
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return True


def _snapshot_alive(
    connection: sqlite3.Connection, embedder_id: str, pointer: _Pointer, ids: NDArray[np.int64]
) -> NDArray[np.bool_] | None:
    """Which snapshot rows still exist; `None` when all do (one count answers that)."""
    (kept,) = connection.execute(
        "SELECT count(*) FROM chunks WHERE embedder_id = ? AND id <= ?", (embedder_id, pointer.watermark)
    ).fetchone()
    if kept == len(ids):
        return None
    live = [
        row[0]
        for row in connection.execute(
            "SELECT id FROM chunks WHERE embedder_id = ? AND id <= ?", (embedder_id, pointer.watermark)
        )
    ]
    return np.isin(ids, np.array(live, dtype=np.int64))


def _vectors_after(
    connection: sqlite3.Connection, embedder_id: str, after: int
) -> tuple[NDArray[np.int64], Vectors]:
    """The ids and vectors of the space's rows with ids above `after`."""
    rows = connection.execute(
        "SELECT id, vector FROM chunks WHERE embedder_id = ? AND id > ? ORDER BY id", (embedder_id, after)
    ).fetchall()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    if not rows:
        return ids, np.zeros((0, 0), dtype=np.float32)
    return ids, np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), -1)


def _tokens_after(
    connection: sqlite3.Connection, embedder_id: str, after: int, known: dict[int, list[str]]
) -> tuple[NDArray[np.int64], dict[int, list[str]]]:
    """The ids of the rows above `after` and their full-text tokens (reusing `known` ones)."""
    ids = [
        row[0]
        for row in connection.execute(
            "SELECT id FROM chunks WHERE embedder_id = ? AND id > ? ORDER BY id", (embedder_id, after)
        )
    ]
    tokens = {chunk_id: known[chunk_id] for chunk_id in ids if chunk_id in known}
    missing = [chunk_id for chunk_id in ids if chunk_id not in tokens]
    if missing:
        rows = connection.execute(
            "SELECT id, heading_path, text FROM chunks WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(missing),),
        ).fetchall()
        texts = [" > ".join(json.loads(heading)) + "\n" + text for _, heading, text in rows]
        tokens.update(zip((row[0] for row in rows), _postings.tokenize(texts), strict=True))
    return np.array(ids, dtype=np.int64), tokens


def _hits_by_id(
    connection: sqlite3.Connection, ids: NDArray[np.int64], scores: NDArray[np.float32]
) -> list[IndexHit]:
    """The rows of `ids` as hits with their scores, best first (ids deleted meanwhile are skipped)."""
    by_id = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    rows = connection.execute(
        "SELECT c.id, c.document_id, c.file_name, c.position, c.heading_path, c.text FROM chunks c"
        " WHERE c.id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(by_id)),),
    ).fetchall()
    return sorted((_hit(row[1:], by_id[row[0]]) for row in rows), key=lambda hit: -hit.score)


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
    connection.execute("DELETE FROM meta WHERE key = ?", (_snapshot_key(embedder_id),))


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
        score=float(score),
    )
