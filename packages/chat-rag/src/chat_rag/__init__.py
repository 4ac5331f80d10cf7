"""Knowledge bases for chat assistants: ingestion, hybrid search, prompt augmentation and citations.

Open one with `open_knowledge_base(RagConfig(...))`; the defaults run offline (all-MiniLM-L6-v2 in
NumPy, an SQLite index in the data directory). See the package README for the configuration, the
measured retrieval quality and speed.
"""

from __future__ import annotations

from chat_rag.config import (
    BedrockEmbedderConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
)
from chat_rag.errors import DimensionMismatchError, MissingExtraError
from chat_rag.knowledge_base import IngestResult, KnowledgeBase, Progress, SearchMode, open_knowledge_base
from chat_rag.search import SearchHit, augment_prompt, citations

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
