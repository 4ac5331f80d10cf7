"""Settings beyond the foundation's: limits, RAG and title-model choices, and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app_api.config import Settings
from chat_rag import BedrockEmbedderConfig, LocalEmbedderConfig, OpenAIEmbedderConfig, PgvectorIndexConfig


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


class TestLimits:
    def test_the_originals_defaults(self) -> None:
        policy = settings().upload_policy()
        assert (policy.max_file_bytes, policy.user_quota_bytes) == (4 * 1024 * 1024, 1024**3)
        assert "application/pdf" in policy.allowed_types

    def test_limits_and_types_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAT_FILE_MAX_BYTES", "1000")
        monkeypatch.setenv("CHAT_FILE_USER_QUOTA_BYTES", "5000")
        monkeypatch.setenv("CHAT_FILE_ALLOWED_TYPES", "text/plain, IMAGE/PNG")
        policy = settings().upload_policy()
        assert (policy.max_file_bytes, policy.user_quota_bytes) == (1000, 5000)
        assert policy.allowed_types == frozenset({"text/plain", "image/png"})


class TestKnowledgeBase:
    def test_the_embedded_default(self, tmp_path: object) -> None:
        config = settings(data_dir=tmp_path).rag_config()
        assert isinstance(config.embedder, LocalEmbedderConfig)
        assert config.index.kind == "sqlite"
        assert config.max_file_bytes == 20 * 1024 * 1024

    def test_bedrock_and_pgvector(self) -> None:
        config = settings(
            rag_embedder="bedrock", rag_index="pgvector", rag_pgvector_dsn="postgresql://db/x"
        ).rag_config()
        assert isinstance(config.embedder, BedrockEmbedderConfig)
        assert isinstance(config.index, PgvectorIndexConfig)

    def test_openai_needs_its_url_and_model(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_RAG_OPENAI_BASE_URL"):
            settings(rag_embedder="openai")
        config = settings(
            rag_embedder="openai", rag_openai_base_url="http://x/v1", rag_openai_model="m"
        ).rag_config()
        assert isinstance(config.embedder, OpenAIEmbedderConfig)

    def test_pgvector_needs_a_dsn(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_RAG_PGVECTOR_DSN"):
            settings(rag_index="pgvector")


class TestTitleModel:
    def test_a_provider_needs_a_model(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_TITLE_MODEL"):
            settings(title_provider="bedrock")

    def test_openai_needs_a_base_url(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_TITLE_OPENAI_BASE_URL"):
            settings(title_provider="openai", title_model="m")


class TestAws:
    def test_timeouts_reach_the_storage_config(self) -> None:
        config = settings(
            storage="aws", aws_connect_timeout=1.5, aws_read_timeout=3, aws_max_attempts=2
        ).storage_config("")
        assert (config.backend, config.connect_timeout, config.read_timeout) == ("aws", 1.5, 3)
        assert config.max_attempts == 2  # type: ignore[union-attr]
