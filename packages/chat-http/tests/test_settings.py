"""The shared settings: one meaning for both services, unsafe values refused, one knowledge-base config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr, ValidationError

from chat_http.settings import EdgeSettings, Environment
from chat_rag.config import LocalEmbedderConfig, OpenAIEmbedderConfig, SqliteIndexConfig
from chat_storage.config import AwsStorageConfig, LocalStorageConfig

README = Path(__file__).resolve().parents[1] / "README.md"


def settings(**values: Any) -> EdgeSettings:
    return EdgeSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_every_shared_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"`(CHAT_[A-Z0-9_]+)`", README.read_text()))
    variables = {f"CHAT_{name.upper()}" for name in EdgeSettings.model_fields}
    assert sorted(variables - documented) == []


def test_lists_are_read_from_comma_separated_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_ADMIN_ROLES", "ops, admin,")
    monkeypatch.setenv("CHAT_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("CHAT_FILE_ALLOWED_TYPES", "text/plain")
    read = settings()
    assert read.admin_roles == frozenset({"ops", "admin"})
    assert read.cors_origins == ["https://a.example", "https://b.example"]
    assert read.upload_policy().allowed_types == frozenset({"text/plain"})


class TestProduction:
    oidc: ClassVar[dict[str, str]] = {
        "oidc_issuer": "https://id.example",
        "oidc_audience": "api://chat",
        "oidc_jwks_url": "https://id.example/keys",
    }

    def test_defaults_to_oidc_and_needs_its_three_values(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_OIDC_ISSUER"):
            settings(env=Environment.PRODUCTION)
        assert settings(env=Environment.PRODUCTION, **self.oidc).effective_auth_mode == "oidc"

    def test_refuses_development_auth_and_any_origin(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_AUTH_MODE=dev"):
            settings(env=Environment.PRODUCTION, auth_mode="dev", **self.oidc)
        with pytest.raises(ValidationError, match="CHAT_CORS_ORIGINS"):
            settings(env=Environment.PRODUCTION, cors_origins=["*"], **self.oidc)

    def test_refuses_a_development_token_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAT_DEV_JWT_SECRET", "s" * 40)
        with pytest.raises(ValidationError, match="CHAT_DEV_JWT_SECRET is refused"):
            settings(env=Environment.PRODUCTION, **self.oidc)
        assert settings(**self.oidc).dev_jwt_secret is not None  # development keeps it

    def test_api_docs_are_off_unless_enabled(self) -> None:
        assert settings().docs_enabled
        assert not settings(env=Environment.PRODUCTION, **self.oidc).docs_enabled
        assert settings(env=Environment.PRODUCTION, api_docs=True, **self.oidc).docs_enabled


class TestLibraryConfigs:
    def test_both_services_get_the_same_knowledge_base_configuration(self, tmp_path: Path) -> None:
        config = settings(data_dir=tmp_path, rag_top_k=7, document_max_bytes=123).rag_config()
        assert config.embedder == LocalEmbedderConfig(threads=2)
        assert config.index == SqliteIndexConfig(data_dir=tmp_path)
        assert (config.top_k, config.max_file_bytes) == (7, 123)

    def test_local_embedder_threads_are_a_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAT_RAG_EMBED_THREADS", "1")
        assert settings().rag_config().embedder == LocalEmbedderConfig(threads=1)
        with pytest.raises(ValidationError, match="rag_embed_threads"):
            settings(rag_embed_threads=0)

    def test_openai_embedder_needs_its_url_and_model(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_RAG_OPENAI_BASE_URL"):
            settings(rag_embedder="openai")
        config = settings(
            rag_embedder="openai", rag_openai_base_url="http://e/v1", rag_openai_model="m"
        ).rag_config()
        assert isinstance(config.embedder, OpenAIEmbedderConfig)

    def test_pgvector_needs_a_dsn(self) -> None:
        with pytest.raises(ValidationError, match="CHAT_RAG_PGVECTOR_DSN"):
            settings(rag_index="pgvector")
        assert (
            settings(rag_index="pgvector", rag_pgvector_dsn=SecretStr("postgresql://x"))
            .rag_config()
            .index.kind
            == "pgvector"
        )

    def test_storage_configuration(self, tmp_path: Path) -> None:
        local = settings(data_dir=tmp_path, public_url="http://h:9/").storage_config("secret")
        assert isinstance(local, LocalStorageConfig)
        assert local.blob_base_url == "http://h:9/blobs"
        aws = settings(storage="aws", aws_endpoint_url="http://moto", resource_prefix="p").storage_config("")
        assert isinstance(aws, AwsStorageConfig)
        assert (aws.endpoint_url, aws.resource_prefix) == ("http://moto", "p")
