"""Retrieval quality: recall@k and MRR of a knowledge base on a labelled set of questions.

A labelled set names documents and, for each question, a passage quoted from the document that answers
it. A retrieved chunk is a hit when it contains the passage; both are compared on lower-cased letters
and digits only, so line breaks, hyphenation and punctuation lost in extraction do not matter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chat_rag.knowledge_base import KnowledgeBase, SearchMode

__all__ = [
    "LabelledDocument",
    "LabelledQuestion",
    "LabelledSet",
    "RetrievalQuality",
    "contains_passage",
    "evaluate",
]

_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class LabelledDocument:
    """A file of the set, relative to the set's folder."""

    path: Path
    content_type: str


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    """A question and the passage that answers it."""

    question: str
    passage: str
    file_name: str


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """Documents and questions, as stored in a JSON file (see `examples/rag-quality.json`)."""

    documents: list[LabelledDocument]
    questions: list[LabelledQuestion]

    @classmethod
    def load(cls, path: Path) -> LabelledSet:
        """Read a set; document paths are resolved against the file's folder."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        documents = [
            LabelledDocument(path.parent / item["file"], item["content_type"]) for item in raw["documents"]
        ]
        questions = [
            LabelledQuestion(item["question"], item["passage"], item["file"]) for item in raw["questions"]
        ]
        return cls(documents, questions)


@dataclass(frozen=True, slots=True)
class RetrievalQuality:
    """Scores of one retrieval mode on a labelled set."""

    mode: SearchMode
    questions: int
    recall_at_5: float
    """Share of questions whose passage is in the top 5 hits."""
    mrr: float
    """Mean reciprocal rank of the first hit holding the passage, within the top 10 (0 if absent)."""
    misses: list[str] = field(default_factory=list)
    """Questions whose passage was not in the top 5."""


def contains_passage(text: str, passage: str) -> bool:
    """Whether `text` contains `passage`, ignoring case, whitespace and punctuation."""
    return _NOT_ALPHANUMERIC.sub("", passage.lower()) in _NOT_ALPHANUMERIC.sub("", text.lower())


async def evaluate(
    knowledge_base: KnowledgeBase,
    assistant_id: str,
    questions: Sequence[LabelledQuestion],
    *,
    mode: SearchMode,
) -> RetrievalQuality:
    """Search every question and score where its passage ranks.

    Args:
        knowledge_base: Holds the set's documents under `assistant_id`.
        assistant_id: The knowledge base to search.
        questions: The labelled questions.
        mode: The retrieval mode to score.

    Returns:
        Recall@5, MRR@10 and the questions missed.
    """
    found_in_5 = 0
    reciprocal_ranks = 0.0
    misses: list[str] = []
    for item in questions:
        hits = await knowledge_base.search(assistant_id, item.question, top_k=10, mode=mode)
        rank = next(
            (
                index
                for index, hit in enumerate(hits, start=1)
                if hit.file_name == item.file_name and contains_passage(hit.text, item.passage)
            ),
            None,
        )
        if rank is not None:
            reciprocal_ranks += 1.0 / rank
        if rank is not None and rank <= 5:
            found_in_5 += 1
        else:
            misses.append(item.question)
    count = len(questions)
    return RetrievalQuality(mode, count, found_in_5 / count, reciprocal_ranks / count, misses)
