"""The scale-out index: PostgreSQL with pgvector (HNSW) and full-text search (extra `chat-rag[pgvector]`).

Each (assistant, embedder) space is its own table with its own HNSW and GIN indexes, so a search walks
only that assistant's graph (no global index filtered after the fact), deleting a document touches one
table, and deleting an assistant drops its tables. Three small catalog tables map assistants to their
spaces and record documents. Writes to one assistant are serialised with a transaction-level advisory
lock; readers never wait for them. This is the shape Aurora PostgreSQL / RDS run in production.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final

import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from chat_core.errors import ConflictError, InternalError, UnavailableError
from chat_rag.chunking import Chunk
from chat_rag.config import PgvectorIndexConfig
from chat_rag.embeddings import Vectors
from chat_rag.errors import DimensionMismatchError
from chat_rag.index import DocumentRecord, IndexHit

__all__ = ["PgvectorChunkIndex", "open_pgvector_index"]

_log = logging.getLogger(__name__)

_SCHEMA_LOCK: Final = 0x63686174_72616701  # any constant: serialises concurrent schema creation
_HIT_COLUMNS: Final = sql.SQL("document_id, file_name, position, heading_path, text")


@asynccontextmanager
async def open_pgvector_index(config: PgvectorIndexConfig) -> AsyncIterator[PgvectorChunkIndex]:
    """Create the extension and catalog if needed, then open a connection pool.

    Raises:
        UnavailableError: PostgreSQL cannot be reached, or the `vector` extension cannot be created.
    """
    dsn = config.dsn.get_secret_value()
    with _translate_errors("PostgreSQL is unreachable"):
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=max(1, int(config.connect_timeout))
        ) as connection:
            await _create_catalog(connection, config)

    async def configure(connection: psycopg.AsyncConnection[Any]) -> None:
        await register_vector_async(connection)
        # Set once per connection, so a search needs no transaction of its own to set it.
        await connection.execute(
            "SELECT set_config('hnsw.ef_search', %s, false)", (str(config.hnsw_ef_search),)
        )

    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        dsn,
        min_size=config.min_pool_size,
        max_size=config.max_pool_size,
        open=False,
        configure=configure,
        check=AsyncConnectionPool.check_connection,
        timeout=config.connect_timeout,
        kwargs={"autocommit": True},
    )
    with _translate_errors("PostgreSQL is unreachable"):
        await pool.open(wait=config.min_pool_size > 0, timeout=config.connect_timeout)
    try:
        yield PgvectorChunkIndex(pool, config)
    finally:
        await pool.close()


async def _create_catalog(connection: psycopg.AsyncConnection[Any], config: PgvectorIndexConfig) -> None:
    schema = sql.Identifier(config.db_schema)
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        await connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.rag_knowledge_bases ("
                " assistant_id text PRIMARY KEY, active_embedder text NOT NULL)"
            ).format(schema)
        )
        await connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.rag_spaces ("
                " assistant_id text NOT NULL, embedder_id text NOT NULL, table_name text NOT NULL UNIQUE,"
                " dimensions integer NOT NULL, PRIMARY KEY (assistant_id, embedder_id))"
            ).format(schema)
        )
        await connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.rag_documents ("
                " assistant_id text NOT NULL, embedder_id text NOT NULL, document_id text NOT NULL,"
                " file_name text NOT NULL, content_hash text NOT NULL, chunker_version text NOT NULL,"
                " chunk_count integer NOT NULL, PRIMARY KEY (assistant_id, embedder_id, document_id))"
            ).format(schema)
        )


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    """Map driver and pool failures to the platform's errors (a `ChatError` passes through).

    The driver's text names servers, SQL and exception classes: it goes to the log, not the message.
    """
    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        _log.warning("%s: %s: %s", action, type(exc).__name__, exc)
        raise UnavailableError(f"{action}; try again.") from exc
    except psycopg.Error as exc:
        _log.warning("%s: %s: %s", action, type(exc).__name__, exc)
        raise InternalError(f"{action}.") from exc


class PgvectorChunkIndex:
    """`ChunkIndex` on PostgreSQL + pgvector: one table (HNSW + GIN) per assistant and embedder."""

    def __init__(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], config: PgvectorIndexConfig
    ) -> None:
        self._pool = pool
        self._config = config
        self._schema = sql.Identifier(config.db_schema)

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(self._schema, sql.Identifier(name))

    async def active_embedder(self, assistant_id: str) -> str | None:
        """The searched space's embedder id."""
        with _translate_errors("Knowledge-base lookup failed"):
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    sql.SQL("SELECT active_embedder FROM {} WHERE assistant_id = %s").format(
                        self._table("rag_knowledge_bases")
                    ),
                    (assistant_id,),
                )
                row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def get_document(
        self, assistant_id: str, embedder_id: str, document_id: str
    ) -> DocumentRecord | None:
        """The document's record in a space, or `None`."""
        records = await self._documents(assistant_id, embedder_id, document_id)
        return records[0] if records else None

    async def list_documents(self, assistant_id: str, embedder_id: str) -> list[DocumentRecord]:
        """All documents of a space."""
        return await self._documents(assistant_id, embedder_id, None)

    async def _documents(
        self, assistant_id: str, embedder_id: str, document_id: str | None
    ) -> list[DocumentRecord]:
        query = sql.SQL(
            "SELECT document_id, file_name, content_hash, chunker_version, chunk_count FROM {}"
            " WHERE assistant_id = %s AND embedder_id = %s AND (%s::text IS NULL OR document_id = %s)"
            " ORDER BY document_id"
        ).format(self._table("rag_documents"))
        with _translate_errors("Knowledge-base lookup failed"):
            async with self._pool.connection() as connection:
                cursor = await connection.execute(
                    query, (assistant_id, embedder_id, document_id, document_id)
                )
                rows = await cursor.fetchall()
        return [DocumentRecord(*row) for row in rows]

    async def get_chunks(self, assistant_id: str, embedder_id: str, document_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        with _translate_errors("Knowledge-base lookup failed"):
            async with self._pool.connection() as connection:
                table = await self._space_table(connection, assistant_id, embedder_id)
                if table is None:
                    return []
                cursor = await connection.execute(
                    sql.SQL(
                        "SELECT position, text, heading_path FROM {} WHERE document_id = %s ORDER BY position"
                    ).format(self._table(table)),
                    (document_id,),
                )
                rows = await cursor.fetchall()
        return [Chunk(position, text, tuple(path)) for position, text, path in rows]

    async def _space_table(
        self, connection: psycopg.AsyncConnection[Any], assistant_id: str, embedder_id: str
    ) -> str | None:
        space = await self._space(connection, assistant_id, embedder_id)
        return None if space is None else space[0]

    async def _space(
        self, connection: psycopg.AsyncConnection[Any], assistant_id: str, embedder_id: str
    ) -> tuple[str, int] | None:
        """The space's table and vector size, or `None`."""
        cursor = await connection.execute(
            sql.SQL(
                "SELECT table_name, dimensions FROM {} WHERE assistant_id = %s AND embedder_id = %s"
            ).format(self._table("rag_spaces")),
            (assistant_id, embedder_id),
        )
        row = await cursor.fetchone()
        return (str(row[0]), int(row[1])) if row else None

    async def _lock(self, connection: psycopg.AsyncConnection[Any], assistant_id: str) -> None:
        await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (assistant_id,))

    async def _ensure_space(
        self, connection: psycopg.AsyncConnection[Any], assistant_id: str, embedder_id: str, dimensions: int
    ) -> str:
        space = await self._space(connection, assistant_id, embedder_id)
        if space is not None:
            table, stored = space
            if stored != dimensions:
                raise DimensionMismatchError(stored, dimensions)
            return table
        digest = hashlib.sha256(f"{assistant_id}\x00{embedder_id}".encode()).hexdigest()[:24]
        table = f"rag_chunks_{digest}"
        text_config = sql.Literal(self._config.text_search_config)
        await connection.execute(
            sql.SQL(
                "CREATE TABLE {table} ("
                " document_id text NOT NULL, position integer NOT NULL, file_name text NOT NULL,"
                " heading_path text[] NOT NULL, heading text NOT NULL, text text NOT NULL,"
                " embedding vector({dimensions}) NOT NULL,"
                " tsv tsvector GENERATED ALWAYS AS"
                " (to_tsvector({config}::regconfig, heading || ' ' || text)) STORED,"
                " PRIMARY KEY (document_id, position))"
            ).format(table=self._table(table), dimensions=sql.Literal(dimensions), config=text_config)
        )
        await connection.execute(
            sql.SQL(
                "CREATE INDEX {name} ON {table} USING hnsw (embedding vector_cosine_ops)"
                " WITH (m = {m}, ef_construction = {ef})"
            ).format(
                name=sql.Identifier(f"{table}_hnsw"),
                table=self._table(table),
                m=sql.Literal(self._config.hnsw_m),
                ef=sql.Literal(self._config.hnsw_ef_construction),
            )
        )
        await connection.execute(
            sql.SQL("CREATE INDEX {name} ON {table} USING gin (tsv)").format(
                name=sql.Identifier(f"{table}_tsv"), table=self._table(table)
            )
        )
        await connection.execute(
            sql.SQL(
                "INSERT INTO {} (assistant_id, embedder_id, table_name, dimensions) VALUES (%s, %s, %s, %s)"
            ).format(self._table("rag_spaces")),
            (assistant_id, embedder_id, table, dimensions),
        )
        return table

    async def put_document(
        self,
        assistant_id: str,
        embedder_id: str,
        document: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Vectors,
    ) -> None:
        """Replace the document's rows (COPY) and its record in one transaction.

        Raises:
            DimensionMismatchError: the space already holds vectors of another size.
        """
        assert len(chunks) == len(vectors) == document.chunk_count, "one vector per chunk"
        with _translate_errors("Writing to the knowledge base failed"):
            async with self._pool.connection() as connection, connection.transaction():
                await self._lock(connection, assistant_id)
                table = await self._ensure_space(connection, assistant_id, embedder_id, int(vectors.shape[1]))
                await self._delete_rows(connection, table, assistant_id, embedder_id, document.document_id)
                copy_sql = sql.SQL(
                    "COPY {} (document_id, position, file_name, heading_path, heading, text, embedding)"
                    " FROM STDIN (FORMAT BINARY)"
                ).format(self._table(table))
                async with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                    copy.set_types(["text", "int4", "text", "text[]", "text", "text", "vector"])
                    for chunk, vector in zip(chunks, vectors, strict=True):
                        await copy.write_row(
                            (document.document_id, chunk.position, document.file_name, list(chunk.heading_path),
                             " > ".join(chunk.heading_path), chunk.text, np.asarray(vector, dtype=np.float32))
                        )  # fmt: skip
                await connection.execute(
                    sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s)").format(
                        self._table("rag_documents")
                    ),
                    (assistant_id, embedder_id, document.document_id, document.file_name, document.content_hash,
                     document.chunker_version, document.chunk_count),
                )  # fmt: skip
                await connection.execute(
                    sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT (assistant_id) DO NOTHING").format(
                        self._table("rag_knowledge_bases")
                    ),
                    (assistant_id, embedder_id),
                )

    async def _delete_rows(
        self,
        connection: psycopg.AsyncConnection[Any],
        table: str,
        assistant_id: str,
        embedder_id: str,
        document_id: str,
    ) -> None:
        await connection.execute(
            sql.SQL("DELETE FROM {} WHERE document_id = %s").format(self._table(table)), (document_id,)
        )
        await connection.execute(
            sql.SQL(
                "DELETE FROM {} WHERE assistant_id = %s AND embedder_id = %s AND document_id = %s"
            ).format(self._table("rag_documents")),
            (assistant_id, embedder_id, document_id),
        )

    async def activate(self, assistant_id: str, embedder_id: str, *, previous: str) -> None:
        """Switch the searched space and drop the previous one, in one transaction."""
        with _translate_errors("Switching the knowledge base failed"):
            async with self._pool.connection() as connection, connection.transaction():
                await self._lock(connection, assistant_id)
                cursor = await connection.execute(
                    sql.SQL("SELECT active_embedder FROM {} WHERE assistant_id = %s").format(
                        self._table("rag_knowledge_bases")
                    ),
                    (assistant_id,),
                )
                row = await cursor.fetchone()
                active = row[0] if row else None
                if active == embedder_id:
                    return
                if active != previous:
                    raise ConflictError(
                        f"The knowledge base of {assistant_id!r} was switched to {active!r} meanwhile."
                    )
                await connection.execute(
                    sql.SQL("UPDATE {} SET active_embedder = %s WHERE assistant_id = %s").format(
                        self._table("rag_knowledge_bases")
                    ),
                    (embedder_id, assistant_id),
                )
                await self._drop_space(connection, assistant_id, previous)

    async def drop_space(self, assistant_id: str, embedder_id: str) -> None:
        """Remove an inactive space."""
        with _translate_errors("Cleaning the knowledge base failed"):
            async with self._pool.connection() as connection, connection.transaction():
                await self._lock(connection, assistant_id)
                await self._drop_space(connection, assistant_id, embedder_id)

    async def _drop_space(
        self, connection: psycopg.AsyncConnection[Any], assistant_id: str, embedder_id: str
    ) -> None:
        table = await self._space_table(connection, assistant_id, embedder_id)
        if table is not None:
            await connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(table)))
        for catalog in ("rag_spaces", "rag_documents"):
            await connection.execute(
                sql.SQL("DELETE FROM {} WHERE assistant_id = %s AND embedder_id = %s").format(
                    self._table(catalog)
                ),
                (assistant_id, embedder_id),
            )

    async def vector_search(
        self, assistant_id: str, embedder_id: str, vector: Vectors, limit: int
    ) -> list[IndexHit]:
        """Approximate nearest neighbours through the space's HNSW index (cosine distance).

        Raises:
            DimensionMismatchError: the query vector's size differs from the stored vectors'.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        with _translate_errors("Knowledge-base search failed"):
            async with self._pool.connection() as connection:
                space = await self._space(connection, assistant_id, embedder_id)
                if space is None:
                    return []
                table, stored = space
                if stored != len(query):
                    raise DimensionMismatchError(stored, len(query))
                search = sql.SQL(
                    "SELECT {columns}, 1 - (embedding <=> %(q)s) FROM {table}"
                    " ORDER BY embedding <=> %(q)s LIMIT %(limit)s"
                ).format(columns=_HIT_COLUMNS, table=self._table(table))
                if limit <= self._config.hnsw_ef_search:
                    cursor = await connection.execute(search, {"q": query, "limit": limit})
                    rows = await cursor.fetchall()
                else:  # the graph walk must keep at least `limit` candidates
                    async with connection.transaction():
                        await connection.execute(
                            "SELECT set_config('hnsw.ef_search', %s, true)", (str(limit),)
                        )
                        cursor = await connection.execute(search, {"q": query, "limit": limit})
                        rows = await cursor.fetchall()
        return [_hit(row) for row in rows]

    async def lexical_search(
        self, assistant_id: str, embedder_id: str, terms: Sequence[str], limit: int
    ) -> list[IndexHit]:
        """PostgreSQL full-text search (stemmed, any term may match), ranked by `ts_rank`."""
        if not terms:
            return []
        with _translate_errors("Knowledge-base search failed"):
            async with self._pool.connection() as connection:
                table = await self._space_table(connection, assistant_id, embedder_id)
                if table is None:
                    return []
                cursor = await connection.execute(
                    sql.SQL(
                        "SELECT {columns}, ts_rank(tsv, query) AS rank"
                        " FROM {table}, to_tsquery({config}::regconfig, %s) AS query"
                        " WHERE tsv @@ query ORDER BY rank DESC, document_id, position LIMIT %s"
                    ).format(
                        columns=_HIT_COLUMNS,
                        table=self._table(table),
                        config=sql.Literal(self._config.text_search_config),
                    ),
                    (" | ".join(terms), limit),
                )
                rows = await cursor.fetchall()
        return [_hit(row) for row in rows]

    async def delete_document(self, assistant_id: str, document_id: str) -> None:
        """Delete the document from each of the assistant's spaces."""
        with _translate_errors("Deleting from the knowledge base failed"):
            async with self._pool.connection() as connection, connection.transaction():
                await self._lock(connection, assistant_id)
                cursor = await connection.execute(
                    sql.SQL("SELECT embedder_id, table_name FROM {} WHERE assistant_id = %s").format(
                        self._table("rag_spaces")
                    ),
                    (assistant_id,),
                )
                for embedder_id, table in await cursor.fetchall():
                    await self._delete_rows(connection, table, assistant_id, embedder_id, document_id)

    async def delete_assistant(self, assistant_id: str) -> None:
        """Drop the assistant's tables and catalog rows."""
        with _translate_errors("Deleting the knowledge base failed"):
            async with self._pool.connection() as connection, connection.transaction():
                await self._lock(connection, assistant_id)
                cursor = await connection.execute(
                    sql.SQL("SELECT embedder_id FROM {} WHERE assistant_id = %s").format(
                        self._table("rag_spaces")
                    ),
                    (assistant_id,),
                )
                for (embedder_id,) in await cursor.fetchall():
                    await self._drop_space(connection, assistant_id, embedder_id)
                await connection.execute(
                    sql.SQL("DELETE FROM {} WHERE assistant_id = %s").format(
                        self._table("rag_knowledge_bases")
                    ),
                    (assistant_id,),
                )

    async def ping(self) -> None:
        """`SELECT 1` through the pool."""
        with _translate_errors("PostgreSQL is unreachable"):
            async with self._pool.connection() as connection:
                await connection.execute("SELECT 1")


def _hit(row: Sequence[Any]) -> IndexHit:
    document_id, file_name, position, heading_path, text, score = row
    return IndexHit(
        document_id=document_id,
        file_name=file_name,
        position=position,
        heading_path=tuple(heading_path),
        text=text,
        score=float(score),
    )
