"""Settings of inference-api, read once at start-up from `CHAT_*` environment variables (and `.env`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chat_core.files import DEFAULT_ALLOWED_TYPES, UploadPolicy
from chat_rag import (
    BedrockEmbedderConfig,
    LocalEmbedderConfig,
    OpenAIEmbedderConfig,
    PgvectorIndexConfig,
    RagConfig,
    SqliteIndexConfig,
)
from chat_storage.config import AwsStorageConfig, LocalStorageConfig

__all__ = ["DEFAULT_SYSTEM_PROMPT", "Environment", "Settings", "get_settings"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer clearly and accurately; say so when you do not know. "
    "Use the tools you are given when they help, and format answers in Markdown."
)


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
    """Attempts per DynamoDB or S3 call (first try included)."""
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
    """How browsers reach app-api (signed blob URLs of the sqlite backend are served there)."""
    log_level: str = "INFO"
    log_json: bool = True

    # Models
    default_model_id: str = "offline-extractive"
    """The managed model's `modelId` used when a request names none."""
    default_temperature: float = Field(default=0.7, ge=0, le=1)
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The default system prompt (a request's `system_prompt` replaces it)."""
    openai_base_url: str | None = None
    """Base URL of the OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp: `http://host:port/v1`);
    unset means OpenAI itself."""
    openai_api_key: SecretStr | None = None
    bedrock_endpoint_url: str | None = None
    """Override of the Bedrock Runtime endpoint (VPC endpoints, test servers); unset means AWS."""
    model_connect_timeout: float = Field(default=5.0, gt=0)
    model_read_timeout: float = Field(default=120.0, gt=0)
    model_max_attempts: int = Field(default=4, ge=1, le=10)
    """Model calls per cycle when the provider throttles (strands `ModelRetryStrategy`)."""
    model_retry_delay: int = Field(default=2, ge=0, le=60)
    """Seconds before the first retry of a throttled model call; doubles after each retry."""

    # Requests
    max_message_chars: int = Field(default=100_000, ge=1)
    max_system_prompt_chars: int = Field(default=20_000, ge=1)
    file_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    """Largest attachment (the original's 4 MB); the same variable app-api enforces at upload."""
    file_max_per_message: int = Field(default=5, ge=1, le=20)
    """Attachments per message, inline (`files`) and uploaded (`file_upload_ids`) together."""
    file_allowed_types: Annotated[frozenset[str], NoDecode] = DEFAULT_ALLOWED_TYPES
    """MIME types accepted for attachments (comma-separated)."""
    history_messages: int = Field(default=200, ge=2, le=10_000)
    """Most recent stored messages a turn sends to the model as history."""

    # Tools
    tool_roles: dict[str, list[str]] = Field(default_factory=lambda: {"*": ["current_time", "calculator"]})
    """JSON: role -> tool names it may enable; `*` applies to every caller."""

    # Assistant knowledge (chat-rag): the same variables as app-api, which ingests into the same index.
    rag_embedder: Literal["local", "bedrock", "openai"] = "local"
    rag_index: Literal["sqlite", "pgvector"] = "sqlite"
    rag_pgvector_dsn: SecretStr | None = None
    rag_bedrock_model_id: str = "amazon.titan-embed-text-v2:0"
    rag_bedrock_endpoint_url: str | None = None
    rag_openai_base_url: str | None = None
    rag_openai_model: str | None = None
    rag_openai_api_key: SecretStr | None = None
    rag_top_k: int = Field(default=5, ge=1, le=20)
    rag_context_chars: int = Field(default=6000, ge=500, le=100_000)
    """Budget of knowledge-base text added to the prompt sent to the model."""

    # Streaming
    sse_ping_seconds: float = Field(default=15.0, ge=0)
    """Keep-alive comment interval on open streams (0 disables)."""
    sse_flush_ms: int = Field(default=10, ge=0, le=1000)
    """Events arriving within this many milliseconds of the previous write are written together
    (0 writes every event on its own)."""
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    """How long shutdown waits for running turns to finish and be stored."""

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, values: dict[str, object]) -> dict[str, object]:
        for key in ("admin_roles", "cors_origins", "file_allowed_types"):
            if key in values:
                values[key] = _split_csv(values[key])
        return values

    @field_validator("tool_roles")
    @classmethod
    def _known_tools(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from inference_api.tools.builtin import BUILTIN_TOOL_NAMES

        unknown = sorted({name for names in value.values() for name in names} - BUILTIN_TOOL_NAMES)
        if unknown:
            raise ValueError(f"CHAT_TOOL_ROLES names unknown tools: {', '.join(unknown)}.")
        return value

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
        if self.rag_embedder == "openai" and not (self.rag_openai_base_url and self.rag_openai_model):
            raise ValueError(
                "CHAT_RAG_OPENAI_BASE_URL and CHAT_RAG_OPENAI_MODEL are required when CHAT_RAG_EMBEDDER=openai."
            )
        if self.rag_index == "pgvector" and self.rag_pgvector_dsn is None:
            raise ValueError("CHAT_RAG_PGVECTOR_DSN is required when CHAT_RAG_INDEX=pgvector.")
        return self

    def upload_policy(self) -> UploadPolicy:
        """The attachment limits of a turn."""
        return UploadPolicy(
            max_file_bytes=self.file_max_bytes,
            max_files_per_message=self.file_max_per_message,
            allowed_types=frozenset(kind.lower() for kind in self.file_allowed_types),
        )

    def rag_config(self) -> RagConfig:
        """The typed knowledge-base configuration the chat-rag library takes (the one app-api ingests with)."""
        embedder: LocalEmbedderConfig | BedrockEmbedderConfig | OpenAIEmbedderConfig
        match self.rag_embedder:
            case "bedrock":
                embedder = BedrockEmbedderConfig(
                    model_id=self.rag_bedrock_model_id,
                    region=self.aws_region,
                    endpoint_url=self.rag_bedrock_endpoint_url,
                )
            case "openai":
                assert self.rag_openai_base_url, "checked by _refuse_unsafe_production"
                assert self.rag_openai_model, "checked by _refuse_unsafe_production"
                embedder = OpenAIEmbedderConfig(
                    base_url=self.rag_openai_base_url,
                    model=self.rag_openai_model,
                    api_key=self.rag_openai_api_key,
                )
            case _:
                embedder = LocalEmbedderConfig()
        index: SqliteIndexConfig | PgvectorIndexConfig
        if self.rag_index == "pgvector":
            assert self.rag_pgvector_dsn is not None  # checked by _refuse_unsafe_production
            index = PgvectorIndexConfig(dsn=self.rag_pgvector_dsn)
        else:
            index = SqliteIndexConfig(data_dir=self.data_dir)
        return RagConfig(embedder=embedder, index=index, top_k=self.rag_top_k)

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
