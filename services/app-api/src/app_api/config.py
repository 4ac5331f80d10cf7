"""Settings of app-api, read once at start-up from `CHAT_*` environment variables (and `.env`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chat_core.files import DEFAULT_ALLOWED_TYPES, UploadPolicy
from chat_rag.config import (
    BedrockEmbedderConfig,
    EmbedderConfig,
    IndexConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
)
from chat_storage.config import AwsStorageConfig, LocalStorageConfig

__all__ = ["Environment", "Settings", "get_settings"]


class Environment(StrEnum):
    """Where the service runs; production refuses the development conveniences."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


def _split_csv(value: object) -> object:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


class Settings(BaseSettings):
    """Every knob of the service. Defaults are the embedded development setup."""

    model_config = SettingsConfigDict(env_prefix="CHAT_", env_file=".env", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".chat-data")
    storage: Literal["sqlite", "aws"] = "sqlite"
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    aws_connect_timeout: float = Field(default=2.0, gt=0)
    """Seconds to open a connection to DynamoDB or S3."""
    aws_read_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for a DynamoDB or S3 response."""
    aws_max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per DynamoDB or S3 call (first try included), so an outage answers 503 within seconds."""
    resource_prefix: str = "chat"
    auth_mode: Literal["dev", "oidc"] | None = None
    """`dev` (HS256) or `oidc`; unset means `dev` in development and `oidc` in production."""
    dev_jwt_secret: SecretStr | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_roles_claim: str = "roles"
    admin_roles: Annotated[frozenset[str], NoDecode] = frozenset({"admin"})
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "http://localhost:4200",
            "http://127.0.0.1:4200",
            "http://localhost:8000",
            "http://127.0.0.1:8000",
        ]
    )
    public_url: str = "http://127.0.0.1:8000"
    """How browsers reach this service (used in signed blob URLs of the sqlite backend)."""
    log_level: str = "INFO"
    log_json: bool = True

    file_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    """Largest chat attachment (the original's 4 MB)."""
    file_user_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    """Bytes of attachments one user may hold, pending uploads included (the original's 1 GB)."""
    file_allowed_types: Annotated[frozenset[str], NoDecode] = DEFAULT_ALLOWED_TYPES
    """MIME types accepted for chat attachments (comma-separated)."""
    file_upload_expires_in: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    """Lifetime in seconds of a chat-attachment upload URL (the original's 15 minutes)."""
    document_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """Largest knowledge-base document."""
    document_url_expires_in: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    """Lifetime in seconds of document upload and download URLs (the original's hour)."""
    ingest_concurrency: int = Field(default=2, ge=1, le=32)
    """Documents ingested at once by this process; the others wait their turn."""

    rag_embedder: Literal["local", "bedrock", "openai"] = "local"
    rag_index: Literal["sqlite", "pgvector"] = "sqlite"
    rag_pgvector_dsn: SecretStr | None = None
    rag_bedrock_model_id: str = "amazon.titan-embed-text-v2:0"
    rag_bedrock_endpoint_url: str | None = None
    rag_openai_base_url: str | None = None
    rag_openai_model: str | None = None
    rag_openai_api_key: SecretStr | None = None

    title_provider: Literal["none", "openai", "bedrock"] = "none"
    """The model that names new sessions; `none` uses the first words of the message."""
    title_model: str | None = None
    """Model id for titles (an OpenAI-compatible model name or a Bedrock model id)."""
    title_openai_base_url: str | None = None
    title_openai_api_key: SecretStr | None = None
    title_bedrock_endpoint_url: str | None = None
    title_timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds a title model may take before the fallback title is used."""

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, values: dict[str, object]) -> dict[str, object]:
        for key in ("admin_roles", "cors_origins", "file_allowed_types"):
            if key in values:
                values[key] = _split_csv(values[key])
        return values

    @property
    def effective_auth_mode(self) -> Literal["dev", "oidc"]:
        """The auth mode after applying the environment's default."""
        if self.auth_mode is not None:
            return self.auth_mode
        return "dev" if self.env is Environment.DEVELOPMENT else "oidc"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.effective_auth_mode == "dev":
                raise ValueError("CHAT_AUTH_MODE=dev is refused when CHAT_ENV=production.")
            if not (self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url):
                raise ValueError(
                    "CHAT_OIDC_ISSUER, CHAT_OIDC_AUDIENCE and CHAT_OIDC_JWKS_URL are required in production."
                )
            if any(origin == "*" for origin in self.cors_origins):
                raise ValueError("CHAT_CORS_ORIGINS must list origins in production, not '*'.")
        if self.rag_index == "pgvector" and self.rag_pgvector_dsn is None:
            raise ValueError("CHAT_RAG_PGVECTOR_DSN is required when CHAT_RAG_INDEX=pgvector.")
        if self.rag_embedder == "openai" and not (self.rag_openai_base_url and self.rag_openai_model):
            raise ValueError(
                "CHAT_RAG_OPENAI_BASE_URL and CHAT_RAG_OPENAI_MODEL are required when CHAT_RAG_EMBEDDER=openai."
            )
        if self.title_provider != "none" and not self.title_model:
            raise ValueError("CHAT_TITLE_MODEL is required when CHAT_TITLE_PROVIDER is set.")
        if self.title_provider == "openai" and not self.title_openai_base_url:
            raise ValueError("CHAT_TITLE_OPENAI_BASE_URL is required when CHAT_TITLE_PROVIDER=openai.")
        return self

    def upload_policy(self) -> UploadPolicy:
        """The chat-attachment limits as the domain rules take them."""
        return UploadPolicy(
            max_file_bytes=self.file_max_bytes,
            user_quota_bytes=self.file_user_quota_bytes,
            allowed_types=frozenset(kind.lower() for kind in self.file_allowed_types),
        )

    def rag_config(self) -> RagConfig:
        """The typed knowledge-base configuration the chat-rag library takes."""
        embedder: EmbedderConfig
        if self.rag_embedder == "bedrock":
            embedder = BedrockEmbedderConfig(
                model_id=self.rag_bedrock_model_id,
                region=self.aws_region,
                endpoint_url=self.rag_bedrock_endpoint_url,
            )
        elif self.rag_embedder == "openai":
            assert self.rag_openai_base_url, "checked by the validator"
            assert self.rag_openai_model, "checked by the validator"
            embedder = OpenAIEmbedderConfig(
                base_url=self.rag_openai_base_url,
                model=self.rag_openai_model,
                api_key=self.rag_openai_api_key,
            )
        else:
            embedder = LocalEmbedderConfig()
        index: IndexConfig
        if self.rag_index == "pgvector":
            assert self.rag_pgvector_dsn is not None, "checked by the validator"
            index = PgvectorIndexConfig(dsn=self.rag_pgvector_dsn)
        else:
            index = SqliteIndexConfig(data_dir=self.data_dir)
        return RagConfig(embedder=embedder, index=index, max_file_bytes=self.document_max_bytes)

    def storage_config(self, blob_secret: str) -> LocalStorageConfig | AwsStorageConfig:
        """The typed storage configuration the chat-storage library takes."""
        if self.storage == "aws":
            return AwsStorageConfig(
                region=self.aws_region,
                endpoint_url=self.aws_endpoint_url,
                resource_prefix=self.resource_prefix,
                connect_timeout=self.aws_connect_timeout,
                read_timeout=self.aws_read_timeout,
                max_attempts=self.aws_max_attempts,
            )
        return LocalStorageConfig(
            data_dir=self.data_dir,
            blob_base_url=f"{self.public_url.rstrip('/')}/blobs",
            blob_signing_secret=SecretStr(blob_secret),
        )


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
