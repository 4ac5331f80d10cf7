"""Typed configuration of the model providers (no I/O, no strands: cheap to import anywhere)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["ProviderConfig"]


class ProviderConfig(BaseModel):
    """How to reach the model providers; the services build it from their `CHAT_*` settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aws_region: str = "us-east-1"
    bedrock_endpoint_url: str | None = None
    """Override of the Bedrock Runtime endpoint (VPC endpoints, test servers); unset means AWS."""
    openai_base_url: str | None = None
    """Base URL of the OpenAI-compatible endpoint; unset means OpenAI itself."""
    openai_api_key: SecretStr | None = None
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    allow_offline: bool = True
    """Whether the offline extractive model may answer (refused in production)."""
