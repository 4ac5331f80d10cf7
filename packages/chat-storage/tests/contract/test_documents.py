from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from chat_core.documents import Document, DocumentProgress, DocumentStatus
from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import AssistantId, DocumentId
from chat_storage import Storage

AST = AssistantId("ast-000000000001")
OTHER = AssistantId("ast-000000000002")
BASE = datetime(2025, 7, 1, tzinfo=UTC)


def make_document(number: int, assistant_id: AssistantId = AST) -> Document:
    document_id = DocumentId(f"DOC-{number:012d}")
    return Document(
        document_id=document_id,
        assistant_id=assistant_id,
        filename=f"doc-{number}.pdf",
        content_type="application/pdf",
        size_bytes=1_000 + number,
        storage_key=f"assistants/{assistant_id}/documents/{document_id}/doc-{number}.pdf",
        created_at=BASE + timedelta(minutes=number),
        updated_at=BASE + timedelta(minutes=number),
    )


class TestCreate:
    @pytest.mark.asyncio
    async def test_create_then_get(self, storage: Storage) -> None:
        document = make_document(1)
        assert await storage.documents.create(document) == document
        assert await storage.documents.get(AST, document.document_id) == document
        assert await storage.documents.get(OTHER, document.document_id) is None

    @pytest.mark.asyncio
    async def test_an_existing_id_is_a_conflict(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        changed = make_document(1).model_copy(update={"filename": "other.pdf"})
        with pytest.raises(ConflictError):
            await storage.documents.create(changed)
        stored = await storage.documents.get(AST, DocumentId("DOC-000000000001"))
        assert stored is not None
        assert stored.filename == "doc-1.pdf"


class TestList:
    @pytest.mark.asyncio
    async def test_newest_first_across_pages_for_one_assistant(self, storage: Storage) -> None:
        for number in range(5):
            await storage.documents.create(make_document(number))
        await storage.documents.create(make_document(9, OTHER))
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await storage.documents.list(AST, limit=2, cursor=cursor)
            seen += [document.document_id for document in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [f"DOC-{number:012d}" for number in (4, 3, 2, 1, 0)]


class TestUpdateProgress:
    @pytest.mark.asyncio
    async def test_applies_the_given_fields_only(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        first = await storage.documents.update_progress(
            AST,
            DocumentId("DOC-000000000001"),
            DocumentProgress(status=DocumentStatus.EMBEDDING, chunk_count=10),
        )
        assert first is not None
        second = await storage.documents.update_progress(
            AST,
            DocumentId("DOC-000000000001"),
            DocumentProgress(status=DocumentStatus.EMBEDDING, chunks_done=4),
        )
        assert second is not None
        assert (second.status, second.chunk_count, second.chunks_done) == (DocumentStatus.EMBEDDING, 10, 4)
        assert second.updated_at > make_document(1).updated_at
        assert await storage.documents.get(AST, DocumentId("DOC-000000000001")) == second

    @pytest.mark.asyncio
    async def test_failure_keeps_its_reason(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        failed = await storage.documents.update_progress(
            AST,
            DocumentId("DOC-000000000001"),
            DocumentProgress(status=DocumentStatus.FAILED, error_message="Unreadable PDF"),
        )
        assert failed is not None
        assert (failed.status, failed.error_message) == (DocumentStatus.FAILED, "Unreadable PDF")

    @pytest.mark.asyncio
    async def test_a_retry_clears_the_old_reason(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        document_id = DocumentId("DOC-000000000001")
        failed = DocumentProgress(status=DocumentStatus.FAILED, error_message="Unreadable PDF")
        await storage.documents.update_progress(AST, document_id, failed)
        retried = await storage.documents.update_progress(
            AST, document_id, DocumentProgress(status=DocumentStatus.CHUNKING)
        )
        assert retried is not None
        assert (retried.status, retried.error_message) == (DocumentStatus.CHUNKING, None)
        stored = await storage.documents.get(AST, document_id)
        assert stored is not None
        assert stored.error_message is None

    @pytest.mark.asyncio
    async def test_a_deleted_document_is_none_and_stays_deleted(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        await storage.documents.delete(AST, DocumentId("DOC-000000000001"))
        progress = DocumentProgress(status=DocumentStatus.COMPLETE)
        assert await storage.documents.update_progress(AST, DocumentId("DOC-000000000001"), progress) is None
        assert await storage.documents.get(AST, DocumentId("DOC-000000000001")) is None


class TestDelete:
    @pytest.mark.asyncio
    async def test_delete_once(self, storage: Storage) -> None:
        await storage.documents.create(make_document(1))
        assert await storage.documents.delete(AST, DocumentId("DOC-000000000001")) is True
        assert await storage.documents.delete(AST, DocumentId("DOC-000000000001")) is False

    @pytest.mark.asyncio
    async def test_delete_all_returns_the_removed_records_of_one_assistant(self, storage: Storage) -> None:
        for number in range(3):
            await storage.documents.create(make_document(number))
        kept = await storage.documents.create(make_document(7, OTHER))
        removed = await storage.documents.delete_all(AST)
        assert sorted(d.document_id for d in removed) == [f"DOC-{n:012d}" for n in range(3)]
        assert (await storage.documents.list(AST)).items == []
        assert (await storage.documents.list(OTHER)).items == [kept]
        assert await storage.documents.delete_all(AST) == []


class TestUnfinished:
    @pytest.mark.asyncio
    async def test_lists_unfinished_documents_of_every_assistant_until_they_finish(
        self, storage: Storage
    ) -> None:
        for number, assistant in ((1, AST), (2, OTHER), (3, AST)):
            await storage.documents.create(make_document(number, assistant))
        assert [d.document_id for d in await storage.documents.list_unfinished()] == [
            "DOC-000000000001",
            "DOC-000000000002",
            "DOC-000000000003",
        ]
        await storage.documents.update_progress(
            AST, DocumentId("DOC-000000000001"), DocumentProgress(status=DocumentStatus.CHUNKING)
        )
        await storage.documents.update_progress(
            OTHER, DocumentId("DOC-000000000002"), DocumentProgress(status=DocumentStatus.COMPLETE)
        )
        unfinished = await storage.documents.list_unfinished()
        # Still ingesting counts; its update moved it to the end (least recently updated first).
        assert [(d.document_id, d.status) for d in unfinished] == [
            ("DOC-000000000003", DocumentStatus.UPLOADING),
            ("DOC-000000000001", DocumentStatus.CHUNKING),
        ]
        await storage.documents.update_progress(
            AST,
            DocumentId("DOC-000000000001"),
            DocumentProgress(status=DocumentStatus.FAILED, error_message="x"),
        )
        await storage.documents.delete(AST, DocumentId("DOC-000000000003"))
        assert await storage.documents.list_unfinished() == []

    @pytest.mark.asyncio
    async def test_the_limit_is_bounded(self, storage: Storage) -> None:
        for number in range(3):
            await storage.documents.create(make_document(number))
        assert len(await storage.documents.list_unfinished(limit=2)) == 2
        with pytest.raises(InvalidInputError):
            await storage.documents.list_unfinished(limit=0)


def soon(seconds: float = 60) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


class TestIngestionLease:
    @pytest.mark.asyncio
    async def test_one_holder_at_a_time_until_the_lease_expires(self, storage: Storage) -> None:
        document = await storage.documents.create(make_document(1))
        ids = (AST, document.document_id)
        taken = await storage.documents.acquire_lease(*ids, holder="a", expires_at=soon())
        assert taken is not None
        assert (taken.lease_holder, taken.ingest_attempts) == ("a", 1)
        assert await storage.documents.acquire_lease(*ids, holder="b", expires_at=soon()) is None
        again = await storage.documents.acquire_lease(*ids, holder="a", expires_at=soon())
        assert again is not None  # the holder itself may take it again (a restart of its task)
        assert await storage.documents.renew_lease(*ids, holder="a", expires_at=soon(-1))  # now expired
        resumed = await storage.documents.acquire_lease(*ids, holder="b", expires_at=soon())
        assert resumed is not None
        assert (resumed.lease_holder, resumed.ingest_attempts) == ("b", 3)
        assert not await storage.documents.renew_lease(*ids, holder="a", expires_at=soon())

    @pytest.mark.asyncio
    async def test_concurrent_takers_get_it_once(self, storage: Storage, other_storage: Storage) -> None:
        document = await storage.documents.create(make_document(1))
        ids = (AST, document.document_id)
        takers = [
            handle.documents.acquire_lease(*ids, holder=f"p{number}-{side}", expires_at=soon())
            for number in range(6)
            for side, handle in enumerate((storage, other_storage))
        ]
        granted = [result for result in await asyncio.gather(*takers) if result is not None]
        assert len(granted) == 1
        stored = await storage.documents.get(*ids)
        assert stored is not None
        assert stored.lease_holder == granted[0].lease_holder

    @pytest.mark.asyncio
    async def test_progress_written_for_a_holder_needs_its_lease(self, storage: Storage) -> None:
        document = await storage.documents.create(make_document(1))
        ids = (AST, document.document_id)
        chunking = DocumentProgress(status=DocumentStatus.CHUNKING, chunks_done=0)
        assert await storage.documents.update_progress(*ids, chunking, holder="a") is None  # nobody's yet
        await storage.documents.acquire_lease(*ids, holder="a", expires_at=soon())
        assert await storage.documents.update_progress(*ids, chunking, holder="a") is not None
        assert await storage.documents.update_progress(*ids, chunking, holder="b") is None
        stored = await storage.documents.get(*ids)
        assert stored is not None
        assert (stored.status, stored.lease_holder) == (DocumentStatus.CHUNKING, "a")

    @pytest.mark.asyncio
    async def test_a_finished_status_releases_the_lease_and_the_count(self, storage: Storage) -> None:
        document = await storage.documents.create(make_document(1))
        ids = (AST, document.document_id)
        for holder in ("a", "a"):
            await storage.documents.acquire_lease(*ids, holder=holder, expires_at=soon())
        done = DocumentProgress(status=DocumentStatus.COMPLETE, chunk_count=3, chunks_done=3)
        finished = await storage.documents.update_progress(*ids, done, holder="a")
        assert finished is not None
        assert (finished.lease_holder, finished.lease_expires_at, finished.ingest_attempts) == (None, None, 0)
        assert await storage.documents.acquire_lease(*ids, holder="b", expires_at=soon()) is None  # finished
        restarted = DocumentProgress(status=DocumentStatus.CHUNKING, chunks_done=0)
        await storage.documents.update_progress(*ids, restarted)  # as a retry does
        assert await storage.documents.acquire_lease(*ids, holder="b", expires_at=soon()) is not None

    @pytest.mark.asyncio
    async def test_a_missing_document_has_no_lease(self, storage: Storage) -> None:
        missing = DocumentId("DOC-000000000009")
        assert await storage.documents.acquire_lease(AST, missing, holder="a", expires_at=soon()) is None
        assert not await storage.documents.renew_lease(AST, missing, holder="a", expires_at=soon())
