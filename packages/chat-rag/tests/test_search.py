from __future__ import annotations

import pytest

from chat_core.ids import DocumentId
from chat_rag import SearchHit, augment_prompt, citations
from chat_rag.index import IndexHit
from chat_rag.search import fuse_rankings


def index_hit(document_id: str, position: int, score: float = 1.0) -> IndexHit:
    return IndexHit(
        document_id, f"{document_id}.md", position, ("H",), f"text {document_id}/{position}", score
    )


def search_hit(text: str, *, file_name: str = "guide.md", heading_path: tuple[str, ...] = ()) -> SearchHit:
    return SearchHit(text, 0.5, DocumentId("DOC-1"), file_name, 0, heading_path)


class TestFuseRankings:
    def test_a_chunk_both_retrievers_rank_well_wins(self) -> None:
        lexical = [index_hit("a", 0), index_hit("b", 0), index_hit("c", 0)]
        vector = [index_hit("b", 0), index_hit("d", 0), index_hit("c", 0)]
        fused = fuse_rankings([lexical, vector], rrf_k=60, limit=4)
        assert [hit.document_id for hit in fused] == ["b", "c", "a", "d"]
        assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
        assert fused[-1].score == pytest.approx(1 / 62)

    def test_the_same_document_at_another_position_is_another_chunk(self) -> None:
        fused = fuse_rankings([[index_hit("a", 0)], [index_hit("a", 1)]], rrf_k=60, limit=5)
        assert [(hit.document_id, hit.position) for hit in fused] == [("a", 0), ("a", 1)]

    def test_limit_and_empty_rankings(self) -> None:
        assert fuse_rankings([[], []], rrf_k=60, limit=3) == []
        ranking = [index_hit("a", n) for n in range(10)]
        assert len(fuse_rankings([ranking, []], rrf_k=60, limit=3)) == 3


class TestAugmentPrompt:
    def test_numbered_passages_with_their_source_then_the_question(self) -> None:
        hits = [search_hit("Refunds take ten days.", heading_path=("Returns",)), search_hit("Ship in a box.")]
        prompt = augment_prompt("How long do refunds take?", hits, budget_chars=2000)
        assert "[1] guide.md \u2014 Returns\nRefunds take ten days." in prompt
        assert "[2] guide.md\nShip in a box." in prompt
        assert prompt.endswith("\n\n---\nQuestion: How long do refunds take?")

    def test_the_passages_stay_within_the_budget(self) -> None:
        hits = [search_hit("word " * 100), search_hit("other " * 100), search_hit("third " * 100)]
        question = "What?"
        for budget in (300, 700, 1000, 5000):
            prompt = augment_prompt(question, hits, budget_chars=budget)
            context = prompt.removesuffix(f"\n\n---\nQuestion: {question}")
            assert len(context) <= budget
        cut = augment_prompt(question, hits, budget_chars=1100)
        assert "[2]" in cut
        assert "\u2026" in cut
        assert "[3]" not in cut

    def test_without_room_or_hits_the_question_is_unchanged(self) -> None:
        assert augment_prompt("Hi?", [], budget_chars=1000) == "Hi?"
        assert augment_prompt("Hi?", [search_hit("x" * 500)], budget_chars=100) == "Hi?"


class TestCitations:
    def test_citations_carry_the_original_event_shape_with_text_capped(self) -> None:
        cited = citations("ast-1", [search_hit("y" * 800), search_hit("short", file_name="b.pdf")])
        assert [citation.to_json_dict() for citation in cited] == [
            {"assistantId": "ast-1", "documentId": "DOC-1", "fileName": "guide.md", "text": "y" * 500},
            {"assistantId": "ast-1", "documentId": "DOC-1", "fileName": "b.pdf", "text": "short"},
        ]
