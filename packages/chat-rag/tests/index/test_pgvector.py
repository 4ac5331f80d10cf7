"""What only the pgvector index does: a table and an HNSW graph per assistant, a pool that heals."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector_async

from chat_core.errors import UnavailableError
from chat_rag import KnowledgeBase, PgvectorIndexConfig, RagConfig
from chat_rag.chunking import Chunk
from chat_rag.index import DocumentRecord, open_index
from chat_rag.index.pgvector import PgvectorChunkIndex


def pg_config(dsn: str) -> PgvectorIndexConfig:
    return PgvectorIndexConfig(dsn=dsn, db_schema=f"t_{uuid.uuid4().hex[:12]}", max_pool_size=2)


async def tables_of(dsn: str, schema: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(dsn) as connection:
        cursor = await connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {row[0] for row in await cursor.fetchall()}


@pytest.mark.asyncio
class TestPgvectorIndex:
    async def test_search_walks_the_assistants_own_hnsw_graph(self, postgres_dsn: str) -> None:
        config = pg_config(postgres_dsn)
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(3000, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        chunks = [Chunk(n, f"chunk {n}", ()) for n in range(len(vectors))]
        async with open_index(config) as index:
            assert isinstance(index, PgvectorChunkIndex)
            record = DocumentRecord("DOC-1", "f.txt", "hash", "1", len(chunks))
            await index.put_document("ast-a", "e", record, chunks, vectors)
            small = DocumentRecord("DOC-1", "f.txt", "hash", "1", 10)
            await index.put_document("ast-b", "e", small, chunks[:10], vectors[:10])
            hits = await index.vector_search("ast-a", "e", vectors[123], 5)
            other = await index.vector_search("ast-b", "e", vectors[123], 50)
            deep = await index.vector_search("ast-a", "e", vectors[123], config.hnsw_ef_search + 50)
        assert hits[0].position == 123
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert sorted(hit.position for hit in other) == list(range(10))
        assert len(deep) == config.hnsw_ef_search + 50  # a limit above ef_search widens the walk
        async with await psycopg.AsyncConnection.connect(postgres_dsn) as connection:
            cursor = await connection.execute(
                f'SELECT table_name FROM "{config.db_schema}".rag_spaces WHERE assistant_id = %s',  # noqa: S608
                ("ast-a",),
            )
            row = await cursor.fetchone()
        assert row is not None
        table = row[0]
        tables = await tables_of(postgres_dsn, config.db_schema)
        assert len([name for name in tables if name.startswith("rag_chunks_")]) == 2
        async with await psycopg.AsyncConnection.connect(postgres_dsn) as connection:
            await register_vector_async(connection)
            await connection.execute(f'ANALYZE "{config.db_schema}"."{table}"')
            cursor = await connection.execute(
                f'EXPLAIN SELECT position FROM "{config.db_schema}"."{table}"'  # noqa: S608
                " ORDER BY embedding <=> %s LIMIT 10",
                (vectors[0],),
            )
            plan = "\n".join(row[0] for row in await cursor.fetchall())
        assert f"Index Scan using {table}_hnsw" in plan, plan

    async def test_deleting_an_assistant_drops_its_tables_only(
        self, postgres_dsn: str, make_embedder: Any
    ) -> None:
        config = pg_config(postgres_dsn)
        async with open_index(config) as index:
            kb = KnowledgeBase(RagConfig(index=config), make_embedder(), index)
            for assistant in ("ast-a", "ast-b"):
                await kb.ingest(
                    assistant, "DOC-1", filename="a.txt", content_type=None, data=b"Some text here."
                )
            before = await tables_of(postgres_dsn, config.db_schema)
            await kb.delete_assistant("ast-a")
            after = await tables_of(postgres_dsn, config.db_schema)
            assert await kb.search("ast-b", "text")
        assert len(before - after) == 1
        assert {"rag_knowledge_bases", "rag_spaces", "rag_documents"} <= after

    async def test_dropped_connections_are_replaced_by_the_pool(
        self, postgres_dsn: str, make_embedder: Any
    ) -> None:
        config = pg_config(postgres_dsn)
        async with open_index(config) as index:
            kb = KnowledgeBase(RagConfig(index=config), make_embedder(), index)
            await kb.ingest(
                "ast-a", "DOC-1", filename="a.txt", content_type=None, data=b"Pool survives restarts."
            )
            async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'"
                )
            assert await kb.search("ast-a", "pool restarts")

    async def test_an_unreachable_server_is_unavailable(self, tmp_path: Any) -> None:
        config = PgvectorIndexConfig(
            dsn=f"postgresql://postgres@/postgres?host={tmp_path}", connect_timeout=2
        )
        with pytest.raises(UnavailableError, match="unreachable") as raised:
            async with open_index(config):
                pass
        assert "Error" not in raised.value.message
