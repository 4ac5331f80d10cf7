"""What only the SQLite index does: one file per assistant, a cached matrix, file-system failures."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chat_core.errors import ConflictError, InternalError, UnavailableError
from chat_rag import KnowledgeBase, RagConfig, SqliteIndexConfig
from chat_rag.chunking import Chunk
from chat_rag.index import DocumentRecord
from chat_rag.index.sqlite import SqliteChunkIndex

DOC = b"# Garden\n\nTomatoes need six hours of sun a day.\n\n## Soil\n\nCompost improves clay soil."


def assert_no_internals(message: str) -> None:
    """A client-facing message names no exception class, SQLite, file path or system error."""
    for internal in ("Error", "sqlite", "SQLITE", "Errno", "/", "database is", "not a database", "UNIQUE"):
        assert internal not in message, message


def knowledge_base(data_dir: Path, embedder: Any) -> tuple[KnowledgeBase, SqliteChunkIndex]:
    config = RagConfig(index=SqliteIndexConfig(data_dir=data_dir), chunk_tokens=60, chunk_overlap_tokens=10)
    index = SqliteChunkIndex(config.index)  # type: ignore[arg-type]
    return KnowledgeBase(config, embedder, index), index


async def ingest(kb: KnowledgeBase, assistant: str, document: str = "DOC-1", data: bytes = DOC) -> None:
    await kb.ingest(assistant, document, filename="g.md", content_type=None, data=data)


@pytest.mark.asyncio
class TestSqliteIndex:
    async def test_each_assistant_has_its_own_file_and_deleting_removes_it(
        self, tmp_path: Path, make_embedder: Any
    ) -> None:
        kb, index = knowledge_base(tmp_path, make_embedder())
        await ingest(kb, "ast-a")
        await ingest(kb, "ast-b")
        file_a, file_b = index.path_of("ast-a"), index.path_of("ast-b")
        assert file_a != file_b
        assert file_a.exists()
        assert file_b.exists()
        await kb.delete_assistant("ast-a")
        assert not list(file_a.parent.glob(file_a.name + "*"))
        assert file_b.exists()

    async def test_first_writes_and_reads_of_a_new_assistant_race_safely(self, tmp_path: Path) -> None:
        index = SqliteChunkIndex(SqliteIndexConfig(data_dir=tmp_path))
        record = DocumentRecord(
            document_id="DOC-1", file_name="a.md", content_hash="h", chunker_version="1", chunk_count=0
        )
        empty = np.zeros((0, 4), dtype=np.float32)
        for attempt in range(20):  # each attempt races on a brand-new file
            assistant = f"ast-{attempt}"
            writes = [index.put_document(assistant, "e", record, [], empty) for _ in range(3)]
            reads = [index.list_documents(assistant, "e") for _ in range(6)]
            results = await asyncio.gather(*writes, *reads)
            assert all(listed in ([], [record]) for listed in results[len(writes) :])
            assert await index.list_documents(assistant, "e") == [record]
        assert not await asyncio.to_thread(lambda: list(tmp_path.rglob(".kb-*")))

    async def test_searching_an_unknown_assistant_creates_no_file(
        self, tmp_path: Path, make_embedder: Any
    ) -> None:
        kb, index = knowledge_base(tmp_path, make_embedder())
        assert await kb.search("ast-new", "tomatoes") == []
        assert not index.path_of("ast-new").exists()

    async def test_a_second_process_sees_new_documents_despite_its_cached_matrix(
        self, tmp_path: Path, make_embedder: Any
    ) -> None:
        writer, _ = knowledge_base(tmp_path, make_embedder())
        reader, _ = knowledge_base(tmp_path, make_embedder())
        await ingest(writer, "ast-a")
        assert (
            next(hit.document_id for hit in await reader.search("ast-a", "tomatoes sun", mode="vector"))
            == "DOC-1"
        )
        await ingest(writer, "ast-a", "DOC-2", b"Roses want acid soil and morning sun.")
        hits = await reader.search("ast-a", "roses acid", mode="vector", top_k=1)
        assert hits[0].document_id == "DOC-2"
        await writer.delete_document("ast-a", "DOC-2")
        assert all(hit.document_id == "DOC-1" for hit in await reader.search("ast-a", "roses", mode="vector"))

    async def test_vector_search_is_exact(self, tmp_path: Path, make_embedder: Any) -> None:
        embedder = make_embedder(dimensions=32)
        kb, index = knowledge_base(tmp_path, embedder)
        text = "\n\n".join(f"Item{n} is a thing number {n}." for n in range(300)).encode()
        await ingest(kb, "ast-a", data=text)
        query = await embedder.embed_query("item42 thing")
        hits = await index.vector_search("ast-a", embedder.embedder_id, query, 5)
        texts = list(embedder.texts)
        vectors = await embedder.embed_documents(texts)
        expected = np.sort(vectors @ query[0])[::-1][:5]
        np.testing.assert_allclose([hit.score for hit in hits], expected, rtol=1e-5)

    async def test_an_unusable_data_dir_is_unavailable(self, tmp_path: Path, make_embedder: Any) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        kb, _ = knowledge_base(blocker, make_embedder())
        with pytest.raises(UnavailableError, match="storage is unavailable") as ingested:
            await ingest(kb, "ast-a")
        with pytest.raises(UnavailableError, match="storage is unavailable") as pinged:
            await kb.ping()
        for error in (ingested.value, pinged.value):
            assert_no_internals(error.message)

    async def test_terms_in_most_chunks_are_not_ranked_but_change_nothing(self, tmp_path: Path) -> None:
        index = SqliteChunkIndex(SqliteIndexConfig(data_dir=tmp_path))
        chunks = [
            Chunk(n, f"common filler words entry{n}" + (" rare" if n % 100 == 7 else ""), ())
            for n in range(1200)
        ]
        vectors = np.full((len(chunks), 4), 0.5, dtype=np.float32)
        await index.put_document(
            "ast-a", "e", DocumentRecord("DOC-1", "f.txt", "h", "1", len(chunks)), chunks, vectors
        )
        both = await index.lexical_search("ast-a", "e", ["common", "rare"], 50)
        rare = await index.lexical_search("ast-a", "e", ["rare"], 50)
        assert [hit.position for hit in both] == [hit.position for hit in rare]
        assert len(both) == 12
        only_common = await index.lexical_search("ast-a", "e", ["common"], 5)
        assert len(only_common) == 5
        other_space = await index.lexical_search("ast-a", "other-embedder", ["rare"], 50)
        assert other_space == []


@pytest.mark.asyncio
class TestErrorTranslation:
    """SQLite failures reach callers as typed errors with plain messages; the details stay in the log."""

    async def test_a_file_locked_by_another_writer_is_unavailable(
        self, tmp_path: Path, make_embedder: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        config = RagConfig(index=SqliteIndexConfig(data_dir=tmp_path, busy_timeout=0.05))
        index = SqliteChunkIndex(config.index)  # type: ignore[arg-type]
        kb = KnowledgeBase(config, make_embedder(), index)
        await ingest(kb, "ast-a")
        other_process = sqlite3.connect(index.path_of("ast-a"), isolation_level=None)
        try:
            other_process.execute("BEGIN EXCLUSIVE")
            with pytest.raises(UnavailableError) as raised:
                await ingest(kb, "ast-a", "DOC-2", b"Roses want acid soil.")
        finally:
            other_process.close()
        assert raised.value.message == "The knowledge base is busy or its storage is unavailable."
        assert "database is locked" in caplog.text
        await ingest(kb, "ast-a", "DOC-2", b"Roses want acid soil.")

    async def test_a_duplicate_key_is_a_conflict_and_writes_nothing(self, tmp_path: Path) -> None:
        index = SqliteChunkIndex(SqliteIndexConfig(data_dir=tmp_path))
        chunks = [Chunk(0, "first", ()), Chunk(0, "same position", ())]
        vectors = np.eye(2, 4, dtype=np.float32)
        with pytest.raises(ConflictError) as raised:
            await index.put_document(
                "ast-a", "e", DocumentRecord("DOC-1", "f.txt", "h", "1", 2), chunks, vectors
            )
        assert_no_internals(raised.value.message)
        assert await index.list_documents("ast-a", "e") == []
        assert await index.lexical_search("ast-a", "e", ["first"], 5) == []

    async def test_a_corrupt_file_is_an_internal_error(self, tmp_path: Path, make_embedder: Any) -> None:
        kb, index = knowledge_base(tmp_path, make_embedder())
        await ingest(kb, "ast-a")
        index.path_of("ast-a").write_bytes(b"this is not a database" * 100)
        restarted, _ = knowledge_base(tmp_path, make_embedder())
        with pytest.raises(InternalError) as raised:
            await restarted.search("ast-a", "tomatoes")
        assert raised.value.message == "The knowledge base failed."
        assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)
