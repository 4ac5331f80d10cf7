"""Ingestion in the background: progress, a transient failure then a successful retry, the reconciler
that picks up uploads that arrived without a trigger, and the runner's concurrency bounds."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app_api.documents.ingestion import ingest_document
from app_api.documents.reconciler import DocumentReconciler
from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.ids import AssistantId, DocumentId
from chat_http.knowledge import KnowledgeBases
from chat_http.secrets import blob_signing_secret
from chat_rag import RagConfig, SqliteIndexConfig
from chat_storage import LocalStorageConfig, open_storage

CheckError = Callable[..., dict[str, Any]]
Serve = Callable[[FastAPI], AbstractContextManager[str]]
TEXT = "\n\n".join(
    f"Paragraph {index}: the river otter dives for fish near the old mill." for index in range(60)
)


class FakeEmbeddings:
    """An OpenAI-compatible `/v1/embeddings` that refuses with 401 until `healthy` is set."""

    def __init__(self) -> None:
        self.healthy = False
        self.calls = 0
        self.app = FastAPI()
        self.app.post("/v1/embeddings")(self.embeddings)

    async def embeddings(self, request: Request) -> JSONResponse:
        self.calls += 1
        body = await request.json()
        if not self.healthy:
            return JSONResponse({"error": {"message": "Incorrect API key provided."}}, status_code=401)
        vectors = [
            [1.0 + byte for byte in hashlib.sha256(text.encode()).digest()[:8]] for text in body["input"]
        ]
        data = [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(vectors)
        ]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})


@pytest.fixture
def embeddings_app(
    tmp_path: Path,
    serve: Serve,
    settings_for: Callable[..., Any],
    start_app: Callable[[Any], AbstractContextManager[Any]],
) -> Iterator[tuple[FakeEmbeddings, Any]]:
    """The app (sqlite) with an OpenAI-compatible embedder served by `FakeEmbeddings`."""
    fake = FakeEmbeddings()
    with serve(fake.app) as fake_url:
        settings = settings_for(
            tmp_path,
            rag_embedder="openai",
            rag_openai_base_url=f"{fake_url}/v1",
            rag_openai_model="fake-embed",
            rag_openai_api_key=SecretStr("sk-test"),
        )
        with start_app(settings) as live:
            yield fake, live


def client_for(live: Any, auth: Callable[..., dict[str, str]]) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, headers=auth("alice"), timeout=30)


def wait_for(client: httpx.Client, path: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        document: dict[str, Any] = client.get(path).json()
        if document["status"] in statuses:
            return document
        assert time.monotonic() < deadline, document
        time.sleep(0.05)


class TestRetry:
    def test_a_transient_failure_shows_its_reason_and_a_retry_completes(
        self,
        embeddings_app: tuple[FakeEmbeddings, Any],
        auth: Callable[..., dict[str, str]],
        check_error: CheckError,
    ) -> None:
        fake, live = embeddings_app
        with client_for(live, auth) as alice:
            assistant_id = alice.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
            data = TEXT.encode()
            grant = alice.post(
                f"/assistants/{assistant_id}/documents/upload-url",
                json={"filename": "otters.txt", "contentType": "text/plain", "sizeBytes": len(data)},
            ).json()
            httpx.put(grant["uploadUrl"], content=data, headers={"Content-Type": "text/plain"})
            path = f"/assistants/{assistant_id}/documents/{grant['documentId']}"
            failed = wait_for(alice, path, "failed", "complete")
            assert failed["status"] == "failed"
            assert "HTTP 401" in failed["errorMessage"]
            assert "Incorrect API key" in failed["errorMessage"]
            fake.healthy = True
            retried = alice.post(f"{path}/retry")
            assert retried.status_code == 202
            assert retried.json()["errorMessage"] is None
            done = wait_for(alice, path, "complete", "failed")
            assert done["status"] == "complete", done
            assert done["chunkCount"] > 1
            assert done["chunksDone"] == done["chunkCount"]
            check_error(alice.post(f"{path}/retry"), 409, "conflict")


class RecordingDocuments:
    """The real document repository, recording every progress update it applies."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.updates: list[DocumentProgress] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def update_progress(
        self, assistant_id: Any, document_id: Any, progress: DocumentProgress, **lease: Any
    ) -> Any:
        self.updates.append(progress)
        return await self._inner.update_progress(assistant_id, document_id, progress, **lease)


class TestProgress:
    @pytest.mark.asyncio
    async def test_status_moves_through_chunking_and_embedding_with_chunk_counts(
        self, tmp_path: Path
    ) -> None:
        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        knowledge = KnowledgeBases(
            RagConfig(index=SqliteIndexConfig(data_dir=tmp_path), chunk_tokens=32, chunk_overlap_tokens=4)
        )
        async with open_storage(config) as storage:
            documents = RecordingDocuments(storage.documents)
            document = Document(
                document_id=DocumentId("DOC-000000000001"),
                assistant_id=AssistantId("ast-000000000001"),
                filename="otters.txt",
                content_type="text/plain",
                size_bytes=len(TEXT),
                storage_key="assistants/ast-000000000001/documents/DOC-000000000001/otters.txt",
            )
            await documents.create(document)
            await storage.blobs.put(document.storage_key, TEXT.encode(), content_type="text/plain")
            try:
                finished = await ingest_document(documents, storage.blobs, knowledge, document)
            finally:
                await knowledge.aclose()
        assert finished is not None
        assert finished.status is DocumentStatus.COMPLETE
        statuses = [update.status for update in documents.updates]
        assert statuses[0] is DocumentStatus.CHUNKING
        assert statuses[-1] is DocumentStatus.COMPLETE
        embedding = [update for update in documents.updates if update.status is DocumentStatus.EMBEDDING]
        assert len(embedding) >= 3
        assert all(update.chunk_count == finished.chunk_count for update in embedding)
        done = [update.chunks_done or 0 for update in embedding]
        assert done == sorted(done)
        assert done[0] == 0


def upload_behind_its_back(settings: Any, client: httpx.Client) -> str:
    """A document whose file is stored without going through app-api (as a browser's PUT to S3)."""
    assistant_id = client.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
    grant = client.post(
        f"/assistants/{assistant_id}/documents/upload-url",
        json={"filename": "otters.md", "contentType": "text/markdown", "sizeBytes": 60},
    ).json()
    key = f"assistants/{assistant_id}/documents/{grant['documentId']}/otters.md"

    async def store() -> None:
        async with open_storage(settings.storage_config(blob_signing_secret(settings))) as storage:
            await storage.blobs.put(
                key, b"# Otters\n\nOtters hold hands while they sleep.", content_type="text/markdown"
            )

    asyncio.run(store())
    return f"/assistants/{assistant_id}/documents/{grant['documentId']}"


class TestReconciler:
    def test_an_upload_stored_behind_the_services_back_is_ingested(
        self, sqlite_live: Any, auth: Callable[..., dict[str, str]]
    ) -> None:
        """As after a restart that lost the trigger, or an S3 upload nobody confirmed."""
        with httpx.Client(base_url=sqlite_live.base_url, headers=auth("reconciled"), timeout=30) as alice:
            path = upload_behind_its_back(sqlite_live.settings, alice)
            assert wait_for(alice, path, "complete", "failed")["status"] == "complete"

    @pytest.mark.asyncio
    async def test_one_pass_queues_arrivals_and_fails_abandoned_uploads(self, tmp_path: Path) -> None:
        queued: list[str] = []

        class Queue:
            def start(self, document: Document) -> bool:
                queued.append(document.document_id)
                return True

            def is_running(self, assistant_id: str, document_id: str) -> bool:
                return document_id == "DOC-000000000004"

        def document(
            number: int, *, age_minutes: int = 0, status: DocumentStatus = DocumentStatus.UPLOADING
        ) -> Document:
            created = datetime.now(UTC) - timedelta(minutes=age_minutes)
            return Document(
                document_id=DocumentId(f"DOC-00000000000{number}"),
                assistant_id=AssistantId("ast-000000000001"),
                filename="a.txt",
                content_type="text/plain",
                size_bytes=1,
                storage_key=f"k/{number}",
                status=status,
                created_at=created,
                updated_at=created,
            )

        async with open_storage(
            LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        ) as storage:
            arrived, waiting, abandoned, running = (
                document(1),
                document(2),
                document(3, age_minutes=30),
                document(4),
            )
            ingesting = document(5, status=DocumentStatus.CHUNKING)
            for item in (arrived, waiting, abandoned, running, ingesting):
                await storage.documents.create(item)
            for item in (arrived, running, ingesting):
                await storage.blobs.put(item.storage_key, b"x", content_type="text/plain")
            reconciler = DocumentReconciler(
                storage.documents, storage.blobs, Queue(), interval=1, upload_expires_in=900
            )
            assert await reconciler.run_once() == 2
            page = await storage.documents.list(AssistantId("ast-000000000001"))
            states = {d.document_id: d for d in page.items}
        assert queued == [
            "DOC-000000000001",
            "DOC-000000000005",
        ]  # an arrival, and a cut ingestion (no lease)
        assert states["DOC-000000000002"].status is DocumentStatus.UPLOADING
        assert states["DOC-000000000003"].status is DocumentStatus.FAILED
        assert "Upload the file again" in (states["DOC-000000000003"].error_message or "")

    def test_reading_a_document_starts_nothing(
        self, sqlite_live: Any, auth: Callable[..., dict[str, str]], serve: Serve, tmp_path: Path
    ) -> None:
        from app_api.main import create_app

        quiet = sqlite_live.settings.model_copy(
            update={"ingest_reconcile_seconds": 600.0, "data_dir": tmp_path}
        )
        with (
            serve(create_app(quiet)) as base_url,
            httpx.Client(base_url=base_url, headers=auth("reader"), timeout=30) as alice,
        ):
            path = upload_behind_its_back(quiet, alice)
            for _ in range(3):
                assert alice.get(path).json()["status"] == "uploading"
                assert alice.get(path.rsplit("/", 1)[0]).json()["documents"][0]["status"] == "uploading"
                time.sleep(0.1)


class CountingKnowledge:
    """Stands in for the knowledge base to observe how many ingestions overlap (per assistant and overall)."""

    def __init__(self) -> None:
        self.calls = 0
        self.running: dict[str, int] = {}
        self.most_per_assistant = 0
        self.most_overall = 0

    async def get(self) -> CountingKnowledge:
        return self

    async def ingest(self, assistant_id: str, document_id: str, **_: Any) -> Any:
        from chat_rag import IngestResult

        self.calls += 1
        self.running[assistant_id] = self.running.get(assistant_id, 0) + 1
        self.most_per_assistant = max(self.most_per_assistant, self.running[assistant_id])
        self.most_overall = max(self.most_overall, sum(self.running.values()))
        await asyncio.sleep(0.05)
        self.running[assistant_id] -= 1
        return IngestResult(chunk_count=1, content_hash="0" * 64, skipped=False)


class TestRunner:
    @pytest.mark.asyncio
    async def test_bounded_overall_and_one_at_a_time_per_assistant(self, tmp_path: Path) -> None:
        from app_api.documents.ingestion import IngestionRunner

        knowledge = CountingKnowledge()
        async with open_storage(
            LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        ) as storage:
            runner = IngestionRunner(storage.documents, storage.blobs, knowledge, concurrency=2)  # type: ignore[arg-type]
            documents = []
            for assistant, count in (
                ("ast-00000000000a", 3),
                ("ast-00000000000b", 2),
                ("ast-00000000000c", 2),
            ):
                for index in range(count):
                    document = Document(
                        document_id=DocumentId(f"DOC-{assistant[-1]}0000000000{index}"),
                        assistant_id=AssistantId(assistant),
                        filename="a.txt",
                        content_type="text/plain",
                        size_bytes=1,
                        storage_key=f"assistants/{assistant}/documents/{index}/a.txt",
                    )
                    await storage.documents.create(document)
                    await storage.blobs.put(document.storage_key, b"x", content_type="text/plain")
                    documents.append(document)
            assert all(runner.start(document) for document in documents)
            assert not runner.start(documents[0])  # already under way
            for document in documents:
                await runner.wait(document.assistant_id, document.document_id)
            stored = [await storage.documents.get(d.assistant_id, d.document_id) for d in documents]
            await runner.aclose()
        assert [document.status for document in stored if document] == [DocumentStatus.COMPLETE] * 7
        assert knowledge.most_per_assistant == 1
        assert knowledge.most_overall == 2


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a scraped `/metrics` page, parsed by prometheus-client's own parser."""
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


class TestMetrics:
    def test_a_failed_then_retried_ingestion_in_the_scraped_metrics(
        self, embeddings_app: tuple[FakeEmbeddings, Any], auth: Callable[..., dict[str, str]]
    ) -> None:
        fake, live = embeddings_app
        with client_for(live, auth) as alice:
            assistant_id = alice.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
            data = TEXT.encode()
            grant = alice.post(
                f"/assistants/{assistant_id}/documents/upload-url",
                json={"filename": "otters.txt", "contentType": "text/plain", "sizeBytes": len(data)},
            ).json()
            httpx.put(grant["uploadUrl"], content=data, headers={"Content-Type": "text/plain"})
            path = f"/assistants/{assistant_id}/documents/{grant['documentId']}"
            assert wait_for(alice, path, "failed", "complete")["status"] == "failed"
            fake.healthy = True
            alice.post(f"{path}/retry")
            done = wait_for(alice, path, "complete", "failed")
            scraped = httpx.get(f"{live.base_url}/metrics")
        assert scraped.status_code == 200
        text = scraped.text
        assert metric(text, "chat_ingestion_documents_total", status="failed") == 1
        assert metric(text, "chat_ingestion_documents_total", status="complete") == 1
        assert metric(text, "chat_ingestion_chunks_total") == done["chunkCount"] > 1
        assert metric(text, "chat_ingestion_duration_seconds_count", status="complete") == 1
        assert metric(text, "chat_ingestion_queue_depth") == 0
        assert metric(text, "chat_ingestion_running") == 0
        document_route = "/assistants/{assistant_id}/documents/{document_id}"
        assert (
            metric(
                text,
                "chat_http_request_duration_seconds_count",
                route=document_route,
                method="GET",
                status="200",
            )
            >= 2
        )
        progress = {"backend": "sqlite", "repository": "documents", "operation": "update_progress"}
        assert metric(text, "chat_storage_operation_duration_seconds_count", **progress) >= 4
        assert grant["documentId"] not in text
        assert assistant_id not in text


def chunk_rows(data_dir: Path, assistant_id: str, document_id: str) -> int:
    """Chunks the knowledge base holds for one document, counted in its SQLite file."""
    import sqlite3

    from chat_rag.index.sqlite import SqliteChunkIndex

    path = SqliteChunkIndex(SqliteIndexConfig(data_dir=data_dir)).path_of(assistant_id)
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM chunks WHERE document_id = ?", (document_id,)
        ).fetchone()
    return int(count)


def a_document(assistant: str = "ast-00000000000c", number: int = 1, size: int = len(TEXT)) -> Document:
    document_id = f"DOC-{number:012d}"
    return Document(
        document_id=DocumentId(document_id),
        assistant_id=AssistantId(assistant),
        filename="otters.txt",
        content_type="text/plain",
        size_bytes=size,
        storage_key=f"assistants/{assistant}/documents/{document_id}/otters.txt",
    )


async def cut_by_a_dead_process(storage: Any, document: Document, *, times: int = 1) -> None:
    """Leave `document` as a process that died mid-embedding would: leased (expired), `embedding`."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    for attempt in range(times):
        dead = f"dead-{attempt}"
        assert await storage.documents.acquire_lease(
            document.assistant_id, document.document_id, holder=dead, expires_at=past
        )
        progress = DocumentProgress(status=DocumentStatus.EMBEDDING, chunk_count=9, chunks_done=3)
        assert await storage.documents.update_progress(
            document.assistant_id, document.document_id, progress, holder=dead
        )


class SlowKnowledge:
    """Stands in for the knowledge base with an ingestion that lasts `seconds` (or until cancelled)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.started = asyncio.Event()

    async def get(self) -> SlowKnowledge:
        return self

    async def ingest(self, assistant_id: str, document_id: str, **_: Any) -> Any:
        from chat_rag import IngestResult

        self.calls += 1
        self.started.set()
        await asyncio.sleep(self.seconds)
        return IngestResult(chunk_count=1, content_hash="0" * 64, skipped=False)


class TestLease:
    @pytest.mark.asyncio
    async def test_two_processes_never_ingest_one_document_at_once(self, tmp_path: Path) -> None:
        """Two runners on two storage handles (two replicas on one database) start the same document."""
        from app_api.documents.ingestion import IngestionRunner

        knowledge = CountingKnowledge()
        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        async with open_storage(config) as first, open_storage(config) as second:
            document = a_document(size=1)
            await first.documents.create(document)
            await first.blobs.put(document.storage_key, b"x", content_type="text/plain")
            runners = [
                IngestionRunner(handle.documents, handle.blobs, knowledge, concurrency=2)  # type: ignore[arg-type]
                for handle in (first, second, first, second)
            ]
            for runner in runners:
                assert runner.start(document)
            for runner in runners:
                await runner.wait(document.assistant_id, document.document_id)
            stored = await first.documents.get(document.assistant_id, document.document_id)
        assert knowledge.calls == 1
        assert stored is not None
        assert (stored.status, stored.lease_holder, stored.ingest_attempts) == (
            DocumentStatus.COMPLETE,
            None,
            0,
        )

    @pytest.mark.asyncio
    async def test_a_cut_ingestion_is_resumed_once_without_duplicate_chunks(self, tmp_path: Path) -> None:
        """The dead process had already indexed the chunks: the resumed ingestion replaces, never adds."""
        from app_api.documents.ingestion import IngestionRunner

        knowledge = KnowledgeBases(
            RagConfig(index=SqliteIndexConfig(data_dir=tmp_path), chunk_tokens=32, chunk_overlap_tokens=4)
        )
        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        try:
            async with open_storage(config) as storage:
                document = a_document()
                await storage.documents.create(document)
                await storage.blobs.put(document.storage_key, TEXT.encode(), content_type="text/plain")
                knowledge_base = await knowledge.get()
                indexed = await knowledge_base.ingest(
                    document.assistant_id, document.document_id, filename="otters.txt",
                    content_type="text/plain", data=TEXT.encode(),
                )  # fmt: skip
                await cut_by_a_dead_process(storage, document)
                runner = IngestionRunner(storage.documents, storage.blobs, knowledge, concurrency=1)
                reconciler = DocumentReconciler(
                    storage.documents, storage.blobs, runner, interval=1, upload_expires_in=900
                )
                assert await reconciler.run_once() == 1
                await runner.wait(document.assistant_id, document.document_id)
                assert await reconciler.run_once() == 0  # finished: nothing left to resume
                resumed = await storage.documents.get(document.assistant_id, document.document_id)
        finally:
            await knowledge.aclose()
        assert resumed is not None
        assert (resumed.status, resumed.chunk_count) == (DocumentStatus.COMPLETE, indexed.chunk_count)
        assert chunk_rows(tmp_path, document.assistant_id, document.document_id) == indexed.chunk_count

    @pytest.mark.asyncio
    async def test_an_ingestion_longer_than_its_lease_keeps_it_by_its_heartbeat(self, tmp_path: Path) -> None:
        from app_api.documents.ingestion import IngestionRunner

        knowledge = SlowKnowledge(seconds=1.0)
        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        async with open_storage(config) as first, open_storage(config) as second:
            document = a_document(size=1)
            await first.documents.create(document)
            await first.blobs.put(document.storage_key, b"x", content_type="text/plain")
            lease = timedelta(seconds=0.3)
            working = IngestionRunner(first.documents, first.blobs, knowledge, concurrency=1, lease=lease)  # type: ignore[arg-type]
            other = IngestionRunner(second.documents, second.blobs, knowledge, concurrency=1, lease=lease)  # type: ignore[arg-type]
            working.start(document)
            await knowledge.started.wait()
            await asyncio.sleep(0.6)  # two lease lengths: only the heartbeat keeps it
            held = await second.documents.get(document.assistant_id, document.document_id)
            assert held is not None
            assert held.lease_live(datetime.now(UTC))
            other.start(document)
            await other.wait(document.assistant_id, document.document_id)
            await working.wait(document.assistant_id, document.document_id)
            stored = await first.documents.get(document.assistant_id, document.document_id)
        assert knowledge.calls == 1
        assert stored is not None
        assert stored.status is DocumentStatus.COMPLETE

    @pytest.mark.asyncio
    async def test_a_stopping_process_hands_its_lease_back_to_be_resumed_at_once(
        self, tmp_path: Path
    ) -> None:
        from app_api.documents.ingestion import IngestionRunner

        knowledge = SlowKnowledge(seconds=60)
        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        async with open_storage(config) as storage:
            document = a_document(size=1)
            await storage.documents.create(document)
            await storage.blobs.put(document.storage_key, b"x", content_type="text/plain")
            stopping = IngestionRunner(storage.documents, storage.blobs, knowledge, concurrency=1)  # type: ignore[arg-type]
            stopping.start(document)
            await knowledge.started.wait()
            await stopping.aclose()  # as shutdown does
            left = await storage.documents.get(document.assistant_id, document.document_id)
            assert left is not None
            assert left.status is DocumentStatus.CHUNKING
            assert not left.lease_live(datetime.now(UTC))
            knowledge.seconds = 0
            next_process = IngestionRunner(storage.documents, storage.blobs, knowledge, concurrency=1)  # type: ignore[arg-type]
            reconciler = DocumentReconciler(
                storage.documents, storage.blobs, next_process, interval=1, upload_expires_in=900
            )
            assert await reconciler.run_once() == 1
            await next_process.wait(document.assistant_id, document.document_id)
            resumed = await storage.documents.get(document.assistant_id, document.document_id)
        assert resumed is not None
        assert (resumed.status, knowledge.calls) == (DocumentStatus.COMPLETE, 2)

    @pytest.mark.asyncio
    async def test_a_live_lease_is_left_alone(self, tmp_path: Path) -> None:
        queued: list[str] = []

        class Queue:
            def start(self, document: Document) -> bool:
                queued.append(document.document_id)
                return True

            def is_running(self, assistant_id: str, document_id: str) -> bool:
                return False

        config = LocalStorageConfig(data_dir=tmp_path, blob_signing_secret=SecretStr("s"))
        async with open_storage(config) as storage:
            document = await storage.documents.create(a_document())
            await storage.documents.acquire_lease(
                document.assistant_id, document.document_id, holder="alive",
                expires_at=datetime.now(UTC) + timedelta(minutes=1),
            )  # fmt: skip
            reconciler = DocumentReconciler(
                storage.documents, storage.blobs, Queue(), interval=1, upload_expires_in=900
            )
            assert await reconciler.run_once() == 0
        assert queued == []

    def test_after_too_many_cuts_it_fails_with_a_reason_and_a_retry_is_taken_at_once(
        self, sqlite_live: Any, auth: Callable[..., dict[str, str]]
    ) -> None:
        with httpx.Client(base_url=sqlite_live.base_url, headers=auth("cut"), timeout=30) as alice:
            assistant_id = alice.post("/assistants", json={"name": "Otters"}).json()["assistantId"]
            grant = alice.post(
                f"/assistants/{assistant_id}/documents/upload-url",
                json={"filename": "otters.txt", "contentType": "text/plain", "sizeBytes": len(TEXT)},
            ).json()
            path = f"/assistants/{assistant_id}/documents/{grant['documentId']}"

            async def cut_three_times() -> None:
                async with open_storage(sqlite_live.storage_config()) as storage:
                    document = await storage.documents.get(
                        AssistantId(assistant_id), DocumentId(grant["documentId"])
                    )
                    assert document is not None
                    await cut_by_a_dead_process(storage, document, times=3)
                    await storage.blobs.put(document.storage_key, TEXT.encode(), content_type="text/plain")

            asyncio.run(cut_three_times())
            failed = wait_for(alice, path, "failed", "complete")
            assert failed["status"] == "failed"
            assert failed["errorMessage"] == (
                "Ingestion was interrupted 3 times (the service stopped while working on it). "
                "Retry it, or upload the file again."
            )
            assert alice.post(f"{path}/retry").status_code == 202
            assert wait_for(alice, path, "complete", "failed")["status"] == "complete"
