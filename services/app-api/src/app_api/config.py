"""Settings of app-api, read once at start-up from `CHAT_*` environment variables (and `.env`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
        default_factory=lambda: ["http://localhost:4200", "http://127.0.0.1:4200", "http://localhost:8000"]
    )
    public_url: str = "http://127.0.0.1:8000"
    """How browsers reach this service (used in signed blob URLs of the sqlite backend)."""
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, values: dict[str, object]) -> dict[str, object]:
        for key in ("admin_roles", "cors_origins"):
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
        return self

    def storage_config(self, blob_secret: str) -> LocalStorageConfig | AwsStorageConfig:
        """The typed storage configuration the chat-storage library takes."""
        if self.storage == "aws":
            return AwsStorageConfig(
                region=self.aws_region,
                endpoint_url=self.aws_endpoint_url,
                resource_prefix=self.resource_prefix,
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
