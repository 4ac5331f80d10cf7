"""Settings of app-api: the shared `CHAT_*` settings plus its own, read once at start-up."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from chat_http.settings import EdgeSettings, Environment

__all__ = ["Environment", "Settings", "get_settings"]


class Settings(EdgeSettings):
    """Every knob of app-api. Defaults are the embedded development setup."""

    file_upload_expires_in: int = Field(default=300, ge=60, le=7 * 24 * 3600)
    """Lifetime in seconds of a chat-attachment upload URL (the original's was 15 minutes). The client
    uploads at once; on S3 a link cannot be revoked, so a short life keeps it from lingering."""
    document_url_expires_in: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    """Lifetime in seconds of document upload and download URLs (the original's hour)."""
    ingest_concurrency: int = Field(default=2, ge=1, le=32)
    """Documents ingested at once by this process; the others wait their turn."""
    ingest_reconcile_seconds: float = Field(default=2.0, gt=0, le=600)
    """How often the background reconciler looks for uploads that arrived unannounced (S3)."""
    ingest_lease_seconds: float = Field(default=60.0, ge=0.5, le=3600)
    """How long an ingestion's lease lasts without renewal (renewed every third of it): a crashed
    process's documents are resumed by another within this plus `CHAT_INGEST_RECONCILE_SECONDS`."""
    ingest_max_attempts: int = Field(default=3, ge=1, le=20)
    """Interrupted ingestions of one document resumed before it is failed (and may be retried)."""
    health_min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    """`/health` answers 503 when the data directory's disk has less free space than this."""

    title_provider: Literal["none", "openai", "bedrock"] = "none"
    """The model that names new sessions; `none` uses the first words of the message."""
    title_model: str | None = None
    """Model id for titles (an OpenAI-compatible model name or a Bedrock model id)."""
    title_openai_base_url: str | None = None
    title_openai_api_key: SecretStr | None = None
    title_bedrock_endpoint_url: str | None = None
    title_timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds a title model may take before the fallback title is used."""

    # Model discovery (`/admin/{bedrock,openai}/models`); the OpenAI-compatible endpoint is the shared
    # `openai_base_url` / `openai_api_key` of the model providers.
    bedrock_control_endpoint_url: str | None = None
    """Override of the Bedrock control-plane endpoint (`ListFoundationModels`); unset means AWS."""

    @model_validator(mode="after")
    def _check_title_model(self) -> Self:
        if self.title_provider != "none" and not self.title_model:
            raise ValueError("CHAT_TITLE_MODEL is required when CHAT_TITLE_PROVIDER is set.")
        if self.title_provider == "openai" and not self.title_openai_base_url:
            raise ValueError("CHAT_TITLE_OPENAI_BASE_URL is required when CHAT_TITLE_PROVIDER=openai.")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
