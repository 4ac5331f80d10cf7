"""An ingestion cut by a crash is resumed by the next process, on both backends.

An app-api process (started by its console script) ingests a document through an embeddings endpoint
that holds its answer; the process is killed with SIGKILL mid-embedding, leaving the document
`embedding` under a lease nobody renews. A second process on the same data (an in-thread app) resumes
it once the lease expires and finishes it, with each chunk indexed once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chat_core.documents import Document, DocumentStatus
from chat_core.ids import AssistantId, DocumentId
from chat_rag import SqliteIndexConfig
from chat_rag.index.sqlite import SqliteChunkIndex
from chat_storage import open_storage

LEASE_SECONDS = 2.0
TEXT = "\n\n".join(
    f"Paragraph {index}: otters hold hands while they sleep in the kelp." for index in range(40)
)


class HeldEmbeddings:
    """An OpenAI-compatible `/v1/embeddings` that holds every request until `release()`."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self.requests = 0
        self.app = FastAPI()
        self.app.post("/v1/embeddings")(self.embeddings)

    async def embeddings(self, request: Request) -> JSONResponse:
        self.requests += 1
        body = await request.json()
        await asyncio.to_thread(self._released.wait)
        vectors = [
            [1.0 + byte for byte in hashlib.sha256(text.encode()).digest()[:8]] for text in body["input"]
        ]
        data = [{"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})

    def release(self) -> None:
        self._released.set()


def until(condition: Callable[[], bool], what: str, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(settings: Any) -> dict[str, str]:
    """The CHAT_* variables that make a process run with `settings` (and nothing of the machine's)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHAT_")}
    values = {
        "data_dir": settings.data_dir,
        "dev_jwt_secret": settings.dev_jwt_secret.get_secret_value(),
        "storage": settings.storage,
        "aws_endpoint_url": settings.aws_endpoint_url,
        "resource_prefix": settings.resource_prefix,
        "aws_deadline": settings.aws_deadline,
        "rag_embedder": settings.rag_embedder,
        "rag_openai_base_url": settings.rag_openai_base_url,
        "rag_openai_model": settings.rag_openai_model,
        "ingest_lease_seconds": settings.ingest_lease_seconds,
        "ingest_reconcile_seconds": settings.ingest_reconcile_seconds,
        "log_json": "false",
    }
    return env | {f"CHAT_{name.upper()}": str(value) for name, value in values.items() if value is not None}


@pytest.fixture
def held_embeddings(
    serve: Callable[[FastAPI], AbstractContextManager[str]],
) -> Iterator[tuple[HeldEmbeddings, str]]:
    fake = HeldEmbeddings()
    with serve(fake.app) as url:
        try:
            yield fake, f"{url}/v1"
        finally:
            fake.release()


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("aws", marks=pytest.mark.aws)])
def crash_settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    settings_for: Callable[..., Any],
    held_embeddings: tuple[HeldEmbeddings, str],
) -> Any:
    _, embeddings_url = held_embeddings
    values: dict[str, Any] = {
        "rag_embedder": "openai",
        "rag_openai_base_url": embeddings_url,
        "rag_openai_model": "held-embed",
        "ingest_lease_seconds": LEASE_SECONDS,
    }
    if request.param == "aws":
        from chat_storage.aws import provision

        values |= {
            "storage": "aws",
            "aws_endpoint_url": request.getfixturevalue("moto_endpoint"),
            "resource_prefix": f"c{uuid.uuid4().hex[:10]}",
            "aws_deadline": 20.0,
        }
        settings = settings_for(tmp_path / "data", **values)
        asyncio.run(provision(settings.storage_config("")))
        return settings
    return settings_for(tmp_path / "data", **values)


def stored(settings: Any, assistant_id: str, document_id: str) -> Document:
    from chat_http.secrets import blob_signing_secret

    async def read() -> Document | None:
        async with open_storage(settings.storage_config(blob_signing_secret(settings))) as storage:
            return await storage.documents.get(AssistantId(assistant_id), DocumentId(document_id))

    document = asyncio.run(read())
    assert document is not None
    return document


def upload(client: httpx.Client, settings: Any) -> tuple[str, str]:
    """A document through the API as the frontend uploads one (and confirms it on aws)."""
    assistant_id = client.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
    grant = client.post(
        f"/assistants/{assistant_id}/documents/upload-url",
        json={"filename": "otters.txt", "contentType": "text/plain", "sizeBytes": len(TEXT)},
    ).json()
    stored_file = httpx.put(grant["uploadUrl"], content=TEXT.encode(), headers={"Content-Type": "text/plain"})
    assert stored_file.status_code in (200, 204), stored_file.text
    if settings.storage == "aws":
        assert (
            client.post(f"/assistants/{assistant_id}/documents/{grant['documentId']}/complete").status_code
            == 202
        )
    return assistant_id, grant["documentId"]


def test_a_killed_ingestion_is_resumed_by_the_next_process(
    crash_settings: Any,
    held_embeddings: tuple[HeldEmbeddings, str],
    auth: Callable[..., dict[str, str]],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> None:
    fake, _ = held_embeddings
    port = free_port()
    log = crash_settings.data_dir.parent / "first.log"
    with log.open("wb") as output:
        first = subprocess.Popen(
            [sys.executable, "-m", "app_api", "--port", str(port)],
            env=environment(crash_settings),
            cwd=crash_settings.data_dir.parent,
            stdout=output,
            stderr=output,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
            except httpx.TransportError:  # JUSTIFICATION: not answering yet is what this waits for.
                assert first.poll() is None, log.read_text()
                return False

        until(answers, "the first process did not start")
        with httpx.Client(base_url=base_url, headers=auth("crash"), timeout=30) as client:
            assistant_id, document_id = upload(client, crash_settings)
            until(lambda: fake.requests > 0, "the ingestion never reached the embedder")
            cut = stored(crash_settings, assistant_id, document_id)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert cut.status is DocumentStatus.EMBEDDING
    assert cut.lease_holder is not None
    assert cut.lease_holder.startswith("ingest@")
    assert cut.ingest_attempts == 1

    fake.release()
    with (
        start_app(crash_settings) as second,
        httpx.Client(base_url=second.base_url, headers=auth("crash"), timeout=30) as client,
    ):
        path = f"/assistants/{assistant_id}/documents/{document_id}"
        until(
            lambda: client.get(path).json()["status"] in ("complete", "failed"),
            "the document was not resumed",
        )
        finished = client.get(path).json()
    assert finished["status"] == "complete", finished
    resumed = stored(crash_settings, assistant_id, document_id)
    assert (resumed.lease_holder, resumed.ingest_attempts) == (None, 0)
    index = SqliteChunkIndex(SqliteIndexConfig(data_dir=crash_settings.data_dir)).path_of(assistant_id)
    import sqlite3

    with sqlite3.connect(index) as connection:
        (rows,) = connection.execute(
            "SELECT COUNT(*) FROM chunks WHERE document_id = ?", (document_id,)
        ).fetchone()
    assert rows == finished["chunkCount"] > 1
