from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chat_rag import (
    BedrockEmbedderConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
)


class TestRagConfig:
    def test_defaults_are_the_embedded_ones(self) -> None:
        config = RagConfig()
        assert isinstance(config.embedder, LocalEmbedderConfig)
        assert isinstance(config.index, SqliteIndexConfig)
        assert config.index.data_dir == Path(".chat-data")

    def test_backends_are_chosen_by_kind(self) -> None:
        config = RagConfig.model_validate(
            {
                "embedder": {
                    "kind": "openai",
                    "base_url": "http://localhost:11434/v1",
                    "model": "m",
                    "api_key": "k",
                },
                "index": {"kind": "pgvector", "dsn": "postgresql://u:p@db/rag"},
            }
        )
        assert isinstance(config.embedder, OpenAIEmbedderConfig)
        assert isinstance(config.index, PgvectorIndexConfig)
        assert "p@db" not in repr(config)
        assert RagConfig.model_validate({"embedder": {"kind": "bedrock"}}).embedder == BedrockEmbedderConfig()

    def test_unsafe_or_inconsistent_values_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="less than half"):
            RagConfig(chunk_tokens=100, chunk_overlap_tokens=50)
        with pytest.raises(ValidationError):
            BedrockEmbedderConfig.model_validate({"dimensions": 300})
        with pytest.raises(ValidationError):
            PgvectorIndexConfig(dsn="postgresql://x", db_schema="public; drop table x")
        with pytest.raises(ValidationError):
            RagConfig.model_validate({"embedder": {"kind": "local", "unknown": 1}})
