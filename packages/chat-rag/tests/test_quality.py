"""Retrieval quality on the labelled example set, with the real MiniLM, through both indexes.

A regression in parsing, chunking, embedding or fusion shows up here as lost recall.
`bench/rag_quality.py` prints the full table; this test holds the floor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from chat_rag import KnowledgeBase, LocalEmbedderConfig, PgvectorIndexConfig, RagConfig, SqliteIndexConfig
from chat_rag.embeddings import BatchProgress, Embedder, Vectors, open_embedder
from chat_rag.evaluation import LabelledSet, evaluate
from chat_rag.index import open_index

LABELLED = LabelledSet.load(Path(__file__).resolve().parents[3] / "examples" / "rag-quality.json")


def make_index_config(
    backend: str, directory: Path, dsn: str | None
) -> SqliteIndexConfig | PgvectorIndexConfig:
    if backend == "sqlite":
        return SqliteIndexConfig(data_dir=directory)
    assert dsn is not None
    return PgvectorIndexConfig(dsn=dsn, db_schema="quality")


class MemoEmbedder:
    """Wraps the real embedder so the two index runs embed each passage only once."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.memo: dict[str, np.ndarray] = {}

    @property
    def embedder_id(self) -> str:
        return self.inner.embedder_id

    @property
    def max_input_tokens(self) -> int:
        return self.inner.max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        missing = [text for text in dict.fromkeys(texts) if text not in self.memo]
        if missing:
            self.memo.update(zip(missing, await self.inner.embed_documents(missing), strict=True))
        return np.stack([self.memo[text] for text in texts])

    async def embed_query(self, text: str) -> Vectors:
        key = f"\0query\0{text}"
        if key not in self.memo:
            self.memo[key] = await self.inner.embed_query(text)
        return self.memo[key]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def minilm() -> AsyncIterator[MemoEmbedder]:
    async with open_embedder(LocalEmbedderConfig(), batch_size=16, concurrency=1) as embedder:
        yield MemoEmbedder(embedder)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "pgvector"])
async def example_kb(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, minilm: MemoEmbedder
) -> AsyncIterator[KnowledgeBase]:
    """The example documents ingested once per index for the whole module."""
    backend = str(request.param)
    dsn = request.getfixturevalue("postgres_dsn") if backend == "pgvector" else None
    index_config = make_index_config(backend, tmp_path_factory.mktemp("quality"), dsn)
    config = RagConfig(index=index_config, chunk_tokens=200, chunk_overlap_tokens=40)
    async with open_index(config.index) as index:
        kb = KnowledgeBase(config, minilm, index)
        for number, document in enumerate(LABELLED.documents):
            await kb.ingest(
                "ast-examples",
                f"DOC-{number}",
                filename=document.path.name,
                content_type=document.content_type,
                data=document.path.read_bytes(),
            )
        yield kb


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
class TestRetrievalQuality:
    async def test_markdown_and_pdf_answer_the_same_way_on_both_indexes(
        self, example_kb: KnowledgeBase
    ) -> None:
        handbook = await example_kb.search(
            "ast-examples", "Can I take the e-bike battery on a plane?", top_k=1
        )
        assert handbook[0].file_name == "kestrel-commuter-handbook.md"
        assert "160 Wh" in handbook[0].text
        policy = await example_kb.search("ast-examples", "mileage rate for my own car", top_k=1)
        assert policy[0].file_name == "travel-expense-policy.pdf"
        assert "EUR 0.30 per kilometre" in policy[0].text
        assert policy[0].heading_path[-1] == "3.4 Rental cars and private cars"

    async def test_hybrid_recall_at_5_is_at_least_0_8(self, example_kb: KnowledgeBase) -> None:
        assert len(LABELLED.questions) >= 40
        scores = {
            mode: await evaluate(example_kb, "ast-examples", LABELLED.questions, mode=mode)
            for mode in ("lexical", "vector", "hybrid")
        }
        assert scores["hybrid"].recall_at_5 >= 0.8, scores["hybrid"].misses
        assert scores["lexical"].recall_at_5 >= 0.7, scores["lexical"].misses
        assert scores["vector"].recall_at_5 >= 0.7, scores["vector"].misses
        assert scores["hybrid"].mrr >= 0.7
