"""Knowledge bases for chat assistants: ingestion, hybrid search, prompt augmentation and citations.

Open one with `open_knowledge_base(RagConfig(...))`; the defaults run offline (all-MiniLM-L6-v2 in
NumPy, an SQLite index in the data directory). See the package README for the configuration, the
measured retrieval quality and speed.

Importing the package loads the configuration, the errors and the prompt helpers only: the knowledge
base (NumPy, the parsers, the embedders, the indexes) loads when one of its names is first used, so a
service that never opens a knowledge base does not pay for it at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat_rag.config import (
    BedrockEmbedderConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
)
from chat_rag.errors import DimensionMismatchError, MissingExtraError
from chat_rag.search import SearchHit, augment_prompt, citations

if TYPE_CHECKING:
    from chat_rag.knowledge_base import IngestResult, KnowledgeBase, Progress, SearchMode, open_knowledge_base

__all__ = [
    "BedrockEmbedderConfig",
    "DimensionMismatchError",
    "IngestResult",
    "KnowledgeBase",
    "LocalEmbedderConfig",
    "MissingExtraError",
    "OpenAIEmbedderConfig",
    "PgvectorIndexConfig",
    "Progress",
    "RagConfig",
    "SearchHit",
    "SearchMode",
    "SqliteIndexConfig",
    "augment_prompt",
    "citations",
    "open_knowledge_base",
]

_KNOWLEDGE_BASE_NAMES = frozenset(
    {"IngestResult", "KnowledgeBase", "Progress", "SearchMode", "open_knowledge_base"}
)


def __getattr__(name: str) -> object:
    """The knowledge-base names, imported on first use (PEP 562)."""
    if name in _KNOWLEDGE_BASE_NAMES:
        from chat_rag import knowledge_base

        value: object = getattr(knowledge_base, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
