"""Search results, hybrid fusion, prompt augmentation and citation records.

Hybrid search fuses the lexical and the vector ranking with reciprocal rank fusion (RRF): a chunk's
score is the sum over retrievers of `1 / (rrf_k + rank)`. RRF needs no score calibration between BM25
and cosine similarity, which live on unrelated scales, and a chunk both retrievers rank well wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from chat_core.ids import AssistantId, DocumentId
from chat_core.messages import Citation
from chat_rag.index import IndexHit

__all__ = [
    "CITATION_TEXT_LIMIT",
    "SearchHit",
    "augment_prompt",
    "citations",
    "fuse_rankings",
    "to_search_hits",
]

CITATION_TEXT_LIMIT: Final = 500
"""Characters of passage text a citation carries, as the original `citation` event did."""

_PROMPT_HEADER: Final = (
    "Use the numbered passages below from the assistant's knowledge base to answer the question when they "
    "are relevant, and cite them as [1], [2]. If they do not contain the answer, say so rather than guess."
)
_MIN_PARTIAL_PASSAGE: Final = 200
"""A passage that does not fit whole is cut only if at least this many characters of it fit."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A passage found for a query."""

    text: str
    score: float
    """Hybrid: the RRF score; vector: cosine similarity; lexical: the full-text rank. Higher is better."""
    document_id: DocumentId
    file_name: str
    position: int
    """0-based chunk number within the document."""
    heading_path: tuple[str, ...]
    """Headings above the passage, outermost first."""


def to_search_hits(hits: Sequence[IndexHit]) -> list[SearchHit]:
    """Keep one retriever's own scores."""
    return [
        SearchHit(
            hit.text, hit.score, DocumentId(hit.document_id), hit.file_name, hit.position, hit.heading_path
        )
        for hit in hits
    ]


def fuse_rankings(rankings: Sequence[Sequence[IndexHit]], *, rrf_k: int, limit: int) -> list[SearchHit]:
    """Reciprocal rank fusion of several rankings of the same chunks.

    Args:
        rankings: Each retriever's hits, best first.
        rrf_k: The RRF constant; larger values flatten the advantage of the top ranks.
        limit: How many fused hits to return.

    Returns:
        Hits by descending fused score; ties keep the order of first appearance.
    """
    scores: dict[tuple[str, int], float] = {}
    first_seen: dict[tuple[str, int], IndexHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            key = (hit.document_id, hit.position)
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank)
            first_seen.setdefault(key, hit)
    ordered = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [
        SearchHit(
            text=first_seen[key].text,
            score=scores[key],
            document_id=DocumentId(first_seen[key].document_id),
            file_name=first_seen[key].file_name,
            position=first_seen[key].position,
            heading_path=first_seen[key].heading_path,
        )
        for key in ordered
    ]


def augment_prompt(question: str, hits: Sequence[SearchHit], *, budget_chars: int) -> str:
    """The question preceded by numbered passages, with the passage part kept within `budget_chars`.

    Passages are added best first while they fit; one that does not fit whole is cut at a word if at
    least 200 characters of it fit, and the rest are left out. Send the result to the model but store
    the user's question as it was asked. Passage numbers match the order of `citations(...)`.

    Args:
        question: The user's message.
        hits: Search results, best first.
        budget_chars: Maximum length of everything before the question.

    Returns:
        The augmented prompt, or the question unchanged when no passage fits.
    """
    parts = [_PROMPT_HEADER]
    used = len(_PROMPT_HEADER)
    for number, hit in enumerate(hits, start=1):
        label = f"[{number}] {hit.file_name}" + (
            f" \u2014 {' > '.join(hit.heading_path)}" if hit.heading_path else ""
        )
        block = f"\n\n{label}\n{hit.text}"
        remaining = budget_chars - used
        if len(block) <= remaining:
            parts.append(block)
            used += len(block)
            continue
        room = remaining - len(label) - 3 - 1  # two newlines, one newline, the ellipsis
        if room >= _MIN_PARTIAL_PASSAGE:
            cut = hit.text[:room].rsplit(" ", 1)[0]
            parts.append(f"\n\n{label}\n{cut}\u2026")
        break
    if len(parts) == 1:
        return question
    return "".join(parts) + f"\n\n---\nQuestion: {question}"


def citations(assistant_id: AssistantId | str, hits: Sequence[SearchHit]) -> list[Citation]:
    """Citation records for hits, in order: one per passage, text cut to 500 characters."""
    return [
        Citation(
            assistant_id=str(assistant_id),
            document_id=str(hit.document_id),
            file_name=hit.file_name,
            text=hit.text[:CITATION_TEXT_LIMIT],
        )
        for hit in hits
    ]
