"""The `CHAT_*` settings both services read, and the library configurations built from them.

Each service subclasses `EdgeSettings` with its own fields. What is here means the same in both, so a
deployment sets a variable once: the storage both open, the identity both verify, and the knowledge
base app-api ingests into and inference-api searches (one `rag_config()`, hence one embedder).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self

from limits import parse as parse_rate
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chat_agent.config import ProviderConfig
from chat_agent.prompts import DEFAULT_SYSTEM_PROMPT
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

__all__ = ["MAX_SERVER_HEAD_BYTES", "ClaimNames", "EdgeSettings", "Environment"]

MAX_SERVER_HEAD_BYTES = 1024 * 1024
"""Request heads larger than this are refused by the HTTP server itself (a plain 400), before the
application sees them; smaller ones over `CHAT_MAX_HEADER_BYTES` get the 431 error body."""


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Which token claims carry the identity (deployments migrating from the original keep their ids)."""

    user_id: str = "sub"
    """The original system used `http://schemas.boisestate.edu/claims/employeenumber`."""
    email: str = "email"
    """`preferred_username` is used when this claim is absent."""
    name: str = "name"
    """`given_name` + `family_name` are used when this claim is absent."""
    roles: str = "roles"


class Environment(StrEnum):
    """Where the service runs; production refuses the development conveniences."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


def _split_csv(value: object) -> object:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


class EdgeSettings(BaseSettings):
    """The settings both services share. Defaults are the embedded development setup."""

    model_config = SettingsConfigDict(env_prefix="CHAT_", env_file=".env", extra="ignore")

    CSV_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"admin_roles", "system_admin_roles", "cors_origins", "file_allowed_types", "oidc_redirect_uris"}
    )
    """Fields read from one comma-separated variable; subclasses add theirs."""

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
    aws_deadline: float = Field(default=4.0, gt=0, le=300)
    """Seconds one DynamoDB or S3 call may take in all, retries included (a hung endpoint: 503 by then)."""
    health_timeout: float = Field(default=2.0, gt=0, le=60)
    """Seconds a health or readiness probe waits for storage before answering 503 (its own, shorter
    deadline): app-api's `/health`, inference-api's `/ready`."""
    resource_prefix: str = "chat"
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0, le=600_000)
    """How long a SQLite write waits for another writer before the request fails with 503."""
    auth_mode: Literal["dev", "oidc"] | None = None
    """`dev` (HS256) or `oidc`; unset means `dev` in development and `oidc` in production."""
    dev_jwt_secret: SecretStr | None = None
    oidc_issuer: str | None = None
    """The provider's issuer; its `/.well-known/openid-configuration` names every other endpoint."""
    oidc_audience: str | None = None
    """Accepted token audiences, comma-separated (the original accepted `api://{client},{client}`)."""
    oidc_jwks_url: str | None = None
    """The signing keys' URL; unset means the one the discovery document names."""
    oidc_roles_claim: str = "roles"
    oidc_user_id_claim: str = "sub"
    """The claim that identifies a user (the original: `http://schemas.boisestate.edu/claims/employeenumber`)."""
    oidc_email_claim: str = "email"
    oidc_name_claim: str = "name"
    oidc_required_scope: str | None = None
    """A scope every access token must grant (`scp` or `scope` claim), e.g. the original's `Read`."""
    oidc_client_id: str | None = None
    """This application's client id at the provider (sign-in through `/auth/*`)."""
    oidc_client_secret: SecretStr | None = None
    """Unset for a public client (PKCE only)."""
    oidc_scopes: str = "openid profile email offline_access"
    """Scopes asked for at sign-in (space-separated); add the API scope your provider needs."""
    oidc_redirect_uris: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:4200/auth/callback", "http://127.0.0.1:4200/auth/callback"]
    )
    """Where the provider may send users back after sign-in (exact matches; the first is the default)."""
    oidc_timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds to wait for the identity provider."""
    oidc_jwks_refresh_seconds: float = Field(default=30.0, ge=0, le=3600)
    """Least time between two fetches of the signing keys when tokens name an unknown key."""
    auth_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    """How long a process keeps a token that verified (never past its `exp`; 0 verifies every request):
    the longest a token signed by a withdrawn key is still accepted."""
    admin_roles: Annotated[frozenset[str], NoDecode] = frozenset({"admin"})
    """JWT roles allowed on `/admin/*` (the original frontend shows admin pages for `Admin`,
    `SuperAdmin` and `DotNetDevelopers`)."""
    system_admin_roles: Annotated[frozenset[str], NoDecode] = frozenset({"admin"})
    """JWT roles allowed to change AppRoles and role grants (the original's `ADMIN_JWT_ROLES`)."""
    roles_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    """How long a service keeps the AppRole catalogue and the tool catalogue: a change made on one
    replica is seen by every replica within this time (at once on the replica that made it)."""
    quota_enforcement: bool = True
    """Check spend quotas before each stored turn (inference-api)."""
    quota_store_outage: Literal["refuse", "warn"] = "refuse"
    """When quotas cannot be read or reserved: `refuse` answers 503 (the default: never fail open);
    `warn` lets the turn run unchecked and logs a warning, for deployments that prefer availability."""
    quota_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    """How long a process keeps quota tiers and assignments (overrides are always read fresh)."""
    quota_reserve_output_tokens: int = Field(default=1024, ge=0, le=1_000_000)
    """Output tokens a turn reserves at the model's price before it runs (at most its `max_tokens`)."""
    quota_reservation_seconds: int = Field(default=900, ge=60, le=86_400)
    """After this long an unsettled reservation (a turn that never finished) is released."""
    rate_limits_enabled: bool = True
    rate_limit_turns: str = "30/minute"
    """Chat turns per user (a `limits` expression: `30/minute`, `500/day`, `10/second;200/hour`)."""
    rate_limit_writes: str = "300/minute"
    """Requests that change something (POST, PUT, PATCH, DELETE) per user and service."""
    rate_limit_strategy: Literal["sliding-window", "fixed-window"] = "sliding-window"
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
    api_docs: bool | None = None
    """Serve `/docs`, `/redoc` and `/openapi.json`; unset means yes in development, no in production."""

    # Request limits, enforced before a route reads anything (413 / 431 with the error body).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest request body of a JSON route (uploads and chat turns have their own, larger limits)."""
    max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=MAX_SERVER_HEAD_BYTES // 2)
    """Largest request head (request line and headers) a route is given; more is a 431."""

    # Prometheus metrics (traces are configured by the standard OTEL_* variables: chat_http.tracing)
    metrics_enabled: bool = True
    """Record and serve metrics; `false` leaves prometheus-client unimported."""
    metrics_token: SecretStr | None = None
    """Bearer token `GET /metrics` requires on the service port (without it, production does not
    serve metrics there)."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve metrics on this port of their own instead of the service port (0 = any free port)."""
    metrics_host: str = "127.0.0.1"
    """Interface of the metrics port (`0.0.0.0` in a container whose scraper is outside it)."""

    # Attachments: app-api enforces them at upload, inference-api again when a turn uses them.
    file_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    """Largest chat attachment (the original's 4 MB)."""
    file_user_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    """Bytes of attachments one user may hold, pending uploads included (the original's 1 GB)."""
    file_max_per_message: int = Field(default=5, ge=1, le=20)
    """Attachments per message, inline (`files`) and uploaded (`file_upload_ids`) together."""
    file_allowed_types: Annotated[frozenset[str], NoDecode] = DEFAULT_ALLOWED_TYPES
    """MIME types accepted for chat attachments (comma-separated)."""

    # Model providers: inference-api runs turns, app-api runs an assistant's test chat.
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
    default_model_id: str = "offline-extractive"
    """The managed model's `modelId` of a turn that names none (and of every assistant test chat)."""
    default_temperature: float = Field(default=0.7, ge=0, le=1)
    max_message_chars: int = Field(default=100_000, ge=1)
    """Longest user message a turn takes."""

    # Streaming (the turns' Server-Sent Events)
    sse_ping_seconds: float = Field(default=15.0, ge=0)
    """Keep-alive comment interval on open streams (0 disables)."""
    sse_flush_ms: int = Field(default=50, ge=0, le=1000)
    """Events arriving within this many milliseconds of the previous write are written together, or
    sooner when the turn ends (0 writes every event on its own). 50 ms is 20 updates a second, smooth
    to a reader, and keeps the socket writes of many concurrent streams few (bench/inference.py)."""

    # Assistant knowledge (chat-rag): app-api ingests into the index inference-api searches.
    rag_embedder: Literal["local", "bedrock", "openai"] = "local"
    rag_index: Literal["sqlite", "pgvector"] = "sqlite"
    rag_pgvector_dsn: SecretStr | None = None
    rag_bedrock_model_id: str = "amazon.titan-embed-text-v2:0"
    rag_bedrock_endpoint_url: str | None = None
    rag_openai_base_url: str | None = None
    rag_openai_model: str | None = None
    rag_openai_api_key: SecretStr | None = None
    rag_top_k: int = Field(default=5, ge=1, le=20)
    """Passages a knowledge-base search returns."""
    rag_context_chars: int = Field(default=6000, ge=500, le=100_000)
    """Budget of knowledge-base text added to the prompt sent to the model."""
    rag_embed_threads: int = Field(default=2, ge=1, le=64)
    """Worker threads of the local embedder, each with one BLAS thread: two embed an upload in about
    half the time of one on two idle cores and do the same work per CPU-second on a busy one (see
    chat-rag's README); each worker holds about 80 MB while it runs."""
    document_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """Largest knowledge-base document."""

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, values: dict[str, object]) -> dict[str, object]:
        for key in cls.CSV_FIELDS:
            if key in values:
                values[key] = _split_csv(values[key])
        return values

    @property
    def effective_auth_mode(self) -> Literal["dev", "oidc"]:
        """The auth mode after applying the environment's default."""
        if self.auth_mode is not None:
            return self.auth_mode
        return "dev" if self.env is Environment.DEVELOPMENT else "oidc"

    def claim_names(self) -> ClaimNames:
        """The identity claims, as configured."""
        return ClaimNames(
            user_id=self.oidc_user_id_claim,
            email=self.oidc_email_claim,
            name=self.oidc_name_claim,
            roles=self.oidc_roles_claim,
        )

    @model_validator(mode="after")
    def _refuse_unsafe_values(self) -> Self:
        if self.effective_auth_mode == "oidc" and not (self.oidc_issuer and self.oidc_audience):
            raise ValueError("CHAT_AUTH_MODE=oidc needs CHAT_OIDC_ISSUER and CHAT_OIDC_AUDIENCE.")
        if self.env is Environment.PRODUCTION:
            if self.effective_auth_mode == "dev":
                raise ValueError("CHAT_AUTH_MODE=dev is refused when CHAT_ENV=production.")
            if not (self.oidc_issuer and self.oidc_audience):
                raise ValueError("CHAT_OIDC_ISSUER and CHAT_OIDC_AUDIENCE are required in production.")
            if self.dev_jwt_secret is not None:
                raise ValueError("CHAT_DEV_JWT_SECRET is refused when CHAT_ENV=production.")
            if any(origin == "*" for origin in self.cors_origins):
                raise ValueError("CHAT_CORS_ORIGINS must list origins in production, not '*'.")
        for name in ("rate_limit_turns", "rate_limit_writes"):
            try:
                parse_rate(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"CHAT_{name.upper()} is not a rate such as '30/minute'.") from exc
        if self.rag_index == "pgvector" and self.rag_pgvector_dsn is None:
            raise ValueError("CHAT_RAG_PGVECTOR_DSN is required when CHAT_RAG_INDEX=pgvector.")
        if self.rag_embedder == "openai" and not (self.rag_openai_base_url and self.rag_openai_model):
            raise ValueError(
                "CHAT_RAG_OPENAI_BASE_URL and CHAT_RAG_OPENAI_MODEL are required when CHAT_RAG_EMBEDDER=openai."
            )
        return self

    @property
    def metrics_on_service_port(self) -> bool:
        """Whether `GET /metrics` is a route of the service (no port of its own; in production a token)."""
        return (
            self.metrics_enabled
            and self.metrics_port is None
            and (self.env is Environment.DEVELOPMENT or self.metrics_token is not None)
        )

    @property
    def docs_enabled(self) -> bool:
        """Whether the API documentation routes are served (`CHAT_API_DOCS`, else development only)."""
        return self.api_docs if self.api_docs is not None else self.env is Environment.DEVELOPMENT

    def upload_policy(self) -> UploadPolicy:
        """The chat-attachment limits as the domain rules take them."""
        return UploadPolicy(
            max_file_bytes=self.file_max_bytes,
            user_quota_bytes=self.file_user_quota_bytes,
            max_files_per_message=self.file_max_per_message,
            allowed_types=frozenset(kind.lower() for kind in self.file_allowed_types),
        )

    def rag_config(self) -> RagConfig:
        """The typed knowledge-base configuration the chat-rag library takes."""
        embedder: EmbedderConfig
        match self.rag_embedder:
            case "bedrock":
                embedder = BedrockEmbedderConfig(
                    model_id=self.rag_bedrock_model_id,
                    region=self.aws_region,
                    endpoint_url=self.rag_bedrock_endpoint_url,
                )
            case "openai":
                assert self.rag_openai_base_url, "checked by _refuse_unsafe_values"
                assert self.rag_openai_model, "checked by _refuse_unsafe_values"
                embedder = OpenAIEmbedderConfig(
                    base_url=self.rag_openai_base_url,
                    model=self.rag_openai_model,
                    api_key=self.rag_openai_api_key,
                )
            case _:
                embedder = LocalEmbedderConfig(threads=self.rag_embed_threads)
        index: IndexConfig
        if self.rag_index == "pgvector":
            assert self.rag_pgvector_dsn is not None, "checked by _refuse_unsafe_values"
            index = PgvectorIndexConfig(dsn=self.rag_pgvector_dsn)
        else:
            index = SqliteIndexConfig(data_dir=self.data_dir)
        return RagConfig(
            embedder=embedder, index=index, top_k=self.rag_top_k, max_file_bytes=self.document_max_bytes
        )

    def provider_config(self) -> ProviderConfig:
        """How the turn machinery (chat-agent) reaches the model providers."""
        return ProviderConfig(
            aws_region=self.aws_region,
            bedrock_endpoint_url=self.bedrock_endpoint_url,
            openai_base_url=self.openai_base_url,
            openai_api_key=self.openai_api_key,
            connect_timeout=self.model_connect_timeout,
            read_timeout=self.model_read_timeout,
            allow_offline=self.env is Environment.DEVELOPMENT,
        )

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
                deadline=self.aws_deadline,
            )
        return LocalStorageConfig(
            data_dir=self.data_dir,
            busy_timeout_ms=self.sqlite_busy_timeout_ms,
            blob_base_url=f"{self.public_url.rstrip('/')}/blobs",
            blob_signing_secret=SecretStr(blob_secret),
        )
