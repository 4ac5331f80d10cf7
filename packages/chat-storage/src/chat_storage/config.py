"""Typed storage configuration; the services build it from their settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["AwsStorageConfig", "LocalStorageConfig", "StorageConfig"]


class LocalStorageConfig(BaseModel):
    """The embedded default: one SQLite file and a blob directory under `data_dir`."""

    model_config = ConfigDict(frozen=True)

    backend: Literal["sqlite"] = "sqlite"
    data_dir: Path = Path(".chat-data")
    blob_base_url: str = "http://127.0.0.1:8000/blobs"
    """Where app-api serves signed blob URLs for this backend."""
    blob_signing_secret: SecretStr = SecretStr("")
    """HMAC key for blob URLs; the service supplies one (generated into the data dir in development)."""
    busy_timeout_ms: int = Field(default=30_000, ge=0)


class AwsStorageConfig(BaseModel):
    """DynamoDB tables and S3 buckets, named `{resource_prefix}-...`."""

    model_config = ConfigDict(frozen=True)

    backend: Literal["aws"] = "aws"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    """One endpoint for DynamoDB and S3 (a moto server, a local stack); `None` means AWS itself."""
    resource_prefix: str = Field(default="chat", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    """Total attempts per call (botocore standard retry mode), so failures surface in bounded time."""
    deadline: float = Field(default=4.0, gt=0)
    """Seconds one DynamoDB or S3 call may take in all, retries included; then it is `UnavailableError`
    (a hung endpoint answers 503 within this, whatever the timeouts and attempts)."""
    access_key_id: SecretStr | None = None
    """Explicit credentials (tests, local stacks); `None` uses the standard AWS credential chain."""
    secret_access_key: SecretStr | None = None


StorageConfig = Annotated[LocalStorageConfig | AwsStorageConfig, Field(discriminator="backend")]
