"""The SQLite index's search snapshots (BM25 postings and an HNSW graph): built above a size, exact
for rows added since, never returning deleted rows, kept across restarts, rebuilt when they drift,
and consistent between two processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from chat_rag import SqliteIndexConfig
from chat_rag.chunking import Chunk
from chat_rag.index import DocumentRecord, _hnsw
from chat_rag.index.sqlite import SqliteChunkIndex

DIMENSIONS = 32
MINIMUM = 300
SPACE = "e"


def document_vectors(number: int, rows: int) -> np.ndarray:
    """The vectors of document `number`: deterministic, so another process can make the same ones."""
    rng = np.random.default_rng(number)
    vectors = rng.normal(size=(rows, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
]


def text_of(number: int, position: int) -> str:
    """Common words in varying numbers, and one word only this chunk has."""
    rng = np.random.default_rng(number * 1000 + position)
    common = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12))))
    return f"{common} mark{number}x{position} {WORDS[(number + position) % len(WORDS)]} charging"


async def put(index: SqliteChunkIndex, number: int, rows: int = 25) -> None:
    chunks = [
        Chunk(position, text_of(number, position), ("Part", f"Doc{number}")) for position in range(rows)
    ]
    record = DocumentRecord(f"DOC-{number}", f"{number}.txt", str(number), "1", rows)
    await index.put_document("ast-a", SPACE, record, chunks, document_vectors(number, rows))


def open_index(data_dir: Path, minimum: int | None = MINIMUM) -> SqliteChunkIndex:
    return SqliteChunkIndex(SqliteIndexConfig(data_dir=data_dir, snapshot_min_chunks=minimum))


def graph_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "knowledge").glob("*.hnsw"))


def snapshot_files(data_dir: Path) -> list[str]:
    return sorted(path.name for path in (data_dir / "knowledge").glob("*.terms.npz"))


async def word_top(index: SqliteChunkIndex, number: int, position: int) -> tuple[str, int] | None:
    """The best full-text hit for the word only one chunk has."""
    hits = await index.lexical_search("ast-a", SPACE, [f"mark{number}x{position}"], 5)
    return (hits[0].document_id, hits[0].position) if hits else None


async def top(index: SqliteChunkIndex, number: int, position: int, rows: int = 25) -> tuple[str, int]:
    """The best hit for the exact vector of one chunk."""
    hits = await index.vector_search("ast-a", SPACE, document_vectors(number, rows)[position], 5)
    return hits[0].document_id, hits[0].position


async def loaded(data_dir: Path, documents: int) -> SqliteChunkIndex:
    """An index over `documents` documents of 25 rows whose graph is built."""
    index = open_index(data_dir)
    for number in range(documents):
        await put(index, number)
    await top(index, 0, 0)  # the first search over the large space starts the build
    await index.wait_for_snapshots()
    return index


@pytest.mark.asyncio
class TestGraph:
    async def test_a_small_space_is_searched_exactly_and_gets_no_graph(self, tmp_path: Path) -> None:
        index = open_index(tmp_path)
        for number in range(MINIMUM // 25 - 1):
            await put(index, number)
        assert await top(index, 3, 7) == ("DOC-3", 7)
        await index.wait_for_snapshots()
        assert graph_files(tmp_path) == []
        await index.close()

    async def test_a_large_space_gets_a_graph_that_agrees_with_exact_search(self, tmp_path: Path) -> None:
        index = await loaded(tmp_path, 20)
        assert len(graph_files(tmp_path)) == 1
        exact = open_index(tmp_path, minimum=None)
        rng = np.random.default_rng(99)
        agreed = 0
        for _ in range(30):
            query = rng.normal(size=DIMENSIONS).astype(np.float32)
            query /= np.linalg.norm(query)
            by_graph = await index.vector_search("ast-a", SPACE, query, 10)
            by_scan = await exact.vector_search("ast-a", SPACE, query, 10)
            agreed += len({hit.text for hit in by_graph} & {hit.text for hit in by_scan})
            assert [hit.score for hit in by_graph] == sorted((hit.score for hit in by_graph), reverse=True)
        assert agreed / 300 >= 0.98
        for number, position in [(0, 0), (7, 13), (19, 24)]:
            assert await top(index, number, position) == (f"DOC-{number}", position)
            assert await word_top(index, number, position) == (f"DOC-{number}", position)
        await index.close()
        await exact.close()

    async def test_full_text_scores_from_the_snapshot_match_fts5(self, tmp_path: Path) -> None:
        index = await loaded(tmp_path, 20)
        assert len(snapshot_files(tmp_path)) == 1
        fts5 = open_index(tmp_path, minimum=None)
        for terms in (
            ["charging"],
            ["alpha", "kilo"],
            ["mark3x4", "bravo", "lima"],
            ["hotel", "charge", "doc7"],
        ):
            by_snapshot = await index.lexical_search("ast-a", SPACE, terms, 10)
            by_fts5 = await fts5.lexical_search("ast-a", SPACE, terms, 10)
            assert [hit.score for hit in by_snapshot] == pytest.approx(
                [hit.score for hit in by_fts5], rel=1e-4
            )
            last = by_fts5[-1].score  # rows tied with the last one may be cut differently
            assert {hit.text for hit in by_snapshot if hit.score > last * 1.0001} == {
                hit.text for hit in by_fts5 if hit.score > last * 1.0001
            }
        await index.close()
        await fts5.close()

    async def test_rows_added_since_are_found_and_deleted_rows_never_returned(self, tmp_path: Path) -> None:
        index = await loaded(tmp_path, 20)
        graph = graph_files(tmp_path)
        await put(index, 100, rows=20)  # 4 % of the graph: searched exactly beside it
        await index.delete_document("ast-a", "DOC-5")  # 5 %: filtered out of the graph
        for position in (0, 11, 19):
            assert await top(index, 100, position, rows=20) == ("DOC-100", position)
            assert await word_top(index, 100, position) == ("DOC-100", position)
        for position in range(25):
            hits = await index.vector_search("ast-a", SPACE, document_vectors(5, 25)[position], 10)
            assert len(hits) == 10
            assert all(hit.document_id != "DOC-5" for hit in hits)
            assert await word_top(index, 5, position) is None
        words = await index.lexical_search("ast-a", SPACE, ["charging"], 100)
        assert len(words) == 100
        assert all(hit.document_id != "DOC-5" for hit in words)
        await index.wait_for_snapshots()
        assert graph_files(tmp_path) == graph  # below a tenth of drift: no rebuild
        await index.close()

    async def test_the_graph_survives_a_restart(self, tmp_path: Path) -> None:
        first = await loaded(tmp_path, 20)
        await first.close()
        graph = graph_files(tmp_path)
        restarted = open_index(tmp_path)
        assert await top(restarted, 12, 3) == ("DOC-12", 3)
        assert await word_top(restarted, 12, 3) == ("DOC-12", 3)
        await restarted.wait_for_snapshots()
        assert graph_files(tmp_path) == graph
        await restarted.close()

    async def test_the_graph_is_rebuilt_when_the_rows_added_since_grow(self, tmp_path: Path) -> None:
        index = await loaded(tmp_path, 20)
        old = graph_files(tmp_path)
        for number in range(100, 104):  # 100 rows: a fifth of the graph
            await put(index, number)
        await index.delete_document("ast-a", "DOC-1")
        assert await top(index, 103, 4) == ("DOC-103", 4)
        await index.wait_for_snapshots()
        new = graph_files(tmp_path)
        assert len(new) == 1
        assert new != old
        assert await top(index, 101, 9) == ("DOC-101", 9)
        assert await word_top(index, 101, 9) == ("DOC-101", 9)
        assert await word_top(index, 1, 0) is None
        hits = await index.vector_search("ast-a", SPACE, document_vectors(1, 25)[0], 10)
        assert all(hit.document_id != "DOC-1" for hit in hits)
        await index.close()

    async def test_a_missing_or_unreadable_graph_file_falls_back_to_exact_search(
        self, tmp_path: Path
    ) -> None:
        first = await loaded(tmp_path, 20)
        await first.close()
        (graph,) = (tmp_path / "knowledge").glob("*.hnsw")
        graph.write_bytes(b"not a graph")
        damaged = open_index(tmp_path)
        assert await top(damaged, 8, 8) == ("DOC-8", 8)
        assert await word_top(damaged, 8, 8) == ("DOC-8", 8)
        await damaged.wait_for_snapshots()  # it replaced the unreadable file
        await damaged.close()
        (postings,) = (tmp_path / "knowledge").glob("*.terms.npz")
        postings.unlink()
        missing = open_index(tmp_path)
        assert await word_top(missing, 9, 9) == ("DOC-9", 9)
        assert await top(missing, 9, 9) == ("DOC-9", 9)
        await missing.wait_for_snapshots()
        assert len(graph_files(tmp_path)) == len(snapshot_files(tmp_path)) == 1
        await missing.close()

    async def test_without_the_ann_extra_vectors_stay_exact_until_a_process_with_it_adds_a_graph(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_hnsw, "available", lambda: False)
        without = await loaded(tmp_path, 20)
        assert graph_files(tmp_path) == []
        assert len(snapshot_files(tmp_path)) == 1
        assert await top(without, 4, 4) == ("DOC-4", 4)
        assert await word_top(without, 4, 4) == ("DOC-4", 4)
        await without.close()
        monkeypatch.undo()
        with_extra = open_index(tmp_path)
        assert await top(with_extra, 5, 5) == ("DOC-5", 5)
        await with_extra.wait_for_snapshots()
        assert len(graph_files(tmp_path)) == len(snapshot_files(tmp_path)) == 1
        await with_extra.close()

    async def test_deleting_the_assistant_removes_its_graphs(self, tmp_path: Path) -> None:
        index = await loaded(tmp_path, 20)
        await index.delete_assistant("ast-a")
        assert list((tmp_path / "knowledge").iterdir()) == []
        await index.close()


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_sqlite_snapshot import open_index, put

    async def main() -> None:
        index = open_index(Path(sys.argv[1]))
        for number in range(40):
            await put(index, number)
            if number % 4 == 3:
                await index.delete_document("ast-a", f"DOC-{number - 2}")
            if number % 10 == 9:
                await index.vector_search("ast-a", "e", [1.0] + [0.0] * 31, 3)  # may build here too
        await index.wait_for_snapshots()
        await index.close()

    asyncio.run(main())
    """
)


@pytest.mark.asyncio
async def test_a_writing_process_and_a_searching_process_stay_consistent(tmp_path: Path) -> None:
    """app-api ingests and deletes while inference-api searches: every search reflects committed rows.

    A document listed before and after a search must be that search's best hit for its own vector; a
    document seen deleted must never come back.
    """
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(tmp_path), str(Path(__file__).parent)
    )
    reader = open_index(tmp_path)
    seen: set[str] = set()
    deleted: set[str] = set()
    checked = 0
    rng = np.random.default_rng(5)
    try:
        while writer.returncode is None or checked < 20:
            before = {record.document_id for record in await reader.list_documents("ast-a", SPACE)}
            deleted |= seen - before
            seen |= before
            if not before:
                await asyncio.sleep(0.01)
                continue
            document = sorted(before)[int(rng.integers(len(before)))]
            position = int(rng.integers(25))
            vector = document_vectors(int(document.removeprefix("DOC-")), 25)[position]
            hits = await reader.vector_search("ast-a", SPACE, vector, 5)
            words = await reader.lexical_search("ast-a", SPACE, [f"mark{document[4:]}x{position}", "kilo"], 5)
            after = {record.document_id for record in await reader.list_documents("ast-a", SPACE)}
            assert not {hit.document_id for hit in hits + words} & deleted
            if document in after:
                assert (hits[0].document_id, hits[0].position) == (document, position)
                assert (words[0].document_id, words[0].position) == (document, position)
                checked += 1
    finally:
        assert await asyncio.wait_for(writer.wait(), timeout=120) == 0
    await reader.wait_for_snapshots()
    assert len(graph_files(tmp_path)) == 1
    final = {record.document_id for record in await reader.list_documents("ast-a", SPACE)}
    assert len(final) == 30
    for document in sorted(final):
        number = int(document.removeprefix("DOC-"))
        assert await top(reader, number, number % 25) == (document, number % 25)
        assert await word_top(reader, number, number % 25) == (document, number % 25)
    await reader.close()
