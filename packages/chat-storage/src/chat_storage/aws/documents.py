"""Knowledge-base documents in DynamoDB: one partition per assistant, newest first by a local index.

Unfinished documents (uploading, chunking, embedding) also carry the keys of the sparse global index
`unfinished`, least recently updated first; finishing removes them, so the index holds only the
reconciler's work list.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chat_core.clock import utc_now
from chat_core.documents import (
    FINISHED_STATUSES,
    UNFINISHED_STATUSES,
    Document,
    DocumentProgress,
    DocumentStatus,
)
from chat_core.errors import ConflictError
from chat_core.ids import AssistantId, DocumentId, validate_id
from chat_core.pagination import Page, validate_limit
from chat_storage.aws._errors import Rejected, call, conditional
from chat_storage.aws._items import (
    Item,
    UpdateExpression,
    attrs_of,
    batch_delete,
    entity_from,
    iso,
    key,
    model_attrs,
    query_all,
    query_page,
    start_key,
    to_item,
)
from chat_storage.aws._tables import DOCUMENTS_BY_CREATED, DOCUMENTS_UNFINISHED

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoDocumentRepository"]

_DOC = "DOCUMENT#"


def _pk(assistant_id: str) -> str:
    return f"ASSISTANT#{assistant_id}"


_UNFINISHED_PK = "UNFINISHED"


def _unfinished_sk(updated_at: str, assistant_id: str, document_id: str) -> str:
    return f"{updated_at}#{assistant_id}#{document_id}"


def _document_from(item: Mapping[str, Any]) -> Document:
    return entity_from(Document, attrs_of(item))


class DynamoDocumentRepository:
    """`DocumentRepository` on DynamoDB: `ASSISTANT#{id}` / `DOCUMENT#{docId}`, LSI `by-created`."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def create(self, document: Document) -> Document:
        """Add a document; `ConflictError` if the id exists."""
        validate_id(document.assistant_id, field="assistantId")
        validate_id(document.document_id, field="documentId")
        attrs = model_attrs(document) | {
            "PK": _pk(document.assistant_id),
            "SK": f"{_DOC}{document.document_id}",
            "createdSk": f"{iso(document.created_at)}#{document.document_id}",
        }
        if document.status in UNFINISHED_STATUSES:
            attrs |= {
                "unfinishedPk": _UNFINISHED_PK,
                "unfinishedSk": _unfinished_sk(
                    iso(document.updated_at), document.assistant_id, document.document_id
                ),
            }
        item: Item = to_item(attrs)
        result = await conditional(
            "create a document",
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)"
            ),
        )
        if isinstance(result, Rejected):
            raise ConflictError(f"Document {document.document_id!r} already exists.")
        return document

    async def get(self, assistant_id: AssistantId, document_id: DocumentId) -> Document | None:
        """One document of one assistant."""
        validate_id(assistant_id, field="assistantId")
        validate_id(document_id, field="documentId")
        response = await call(
            "read a document",
            self._client.get_item(
                TableName=self._table, Key=key(_pk(assistant_id), f"{_DOC}{document_id}"), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else _document_from(item)

    async def list(
        self, assistant_id: AssistantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Document]:
        """The assistant's documents, newest first."""
        validate_id(assistant_id, field="assistantId")
        validate_limit(limit)
        pk = _pk(assistant_id)
        items, next_cursor = await query_page(
            self._client,
            "list documents",
            {
                "TableName": self._table,
                "IndexName": DOCUMENTS_BY_CREATED.name,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": pk}},
                "ScanIndexForward": False,
                "ConsistentRead": True,
            },
            limit=limit,
            key_names=("PK", "SK", "createdSk"),
            listing="documents",
            cursor_start=start_key(
                cursor, listing="documents", fixed={"PK": pk}, prefixed={"SK": _DOC, "createdSk": ""}
            ),
        )
        return Page(items=[_document_from(item) for item in items], next_cursor=next_cursor)

    async def update_progress(
        self,
        assistant_id: AssistantId,
        document_id: DocumentId,
        progress: DocumentProgress,
        *,
        holder: str | None = None,
    ) -> Document | None:
        """Apply a status change in one conditional UpdateItem.

        `None` when the document is gone (or, with `holder`, when `holder` no longer holds its lease).
        """
        validate_id(assistant_id, field="assistantId")
        validate_id(document_id, field="documentId")
        updated_at = iso(utc_now())
        changes: dict[str, Any] = {"status": progress.status.value, "updatedAt": updated_at}
        unfinished = progress.status in UNFINISHED_STATUSES
        if unfinished:
            changes |= {
                "unfinishedPk": _UNFINISHED_PK,
                "unfinishedSk": _unfinished_sk(updated_at, assistant_id, document_id),
            }
        for name, value in (
            ("chunkCount", progress.chunk_count),
            ("chunksDone", progress.chunks_done),
            ("errorMessage", progress.error_message),
            ("contentHash", progress.content_hash),
        ):
            if value is not None:
                changes[name] = value
        removed = [] if unfinished else ["unfinishedPk", "unfinishedSk"]
        if progress.status is not DocumentStatus.FAILED:  # a reason outlives only the failure it explains
            removed.append("errorMessage")
        if progress.status in FINISHED_STATUSES:  # the ingestion ended: its lease and count go
            changes["ingestAttempts"] = 0
            removed += ["leaseHolder", "leaseExpiresAt"]
        update = UpdateExpression()
        for name, value in changes.items():
            update.set(name, value)
        for name in removed:
            update.remove(name)
        condition = "attribute_exists(PK)"
        if holder is not None:
            condition += f" AND {update.name('leaseHolder')} = {update.value(holder)}"
        return await self._update(update, assistant_id, document_id, condition, "update a document")

    async def acquire_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> Document | None:
        """Take the ingestion lease in one conditional UpdateItem (so two processes cannot both take it)."""
        validate_id(assistant_id, field="assistantId")
        validate_id(document_id, field="documentId")
        update = UpdateExpression()
        update.set("leaseHolder", holder)
        update.set("leaseExpiresAt", iso(expires_at))
        update.add("ingestAttempts", 1)
        lease, until, me = update.name("leaseHolder"), update.name("leaseExpiresAt"), update.value(holder)
        status = update.name("status")
        condition = (
            f"attribute_exists(PK) AND {status} <> {update.value(DocumentStatus.COMPLETE.value)} "
            f"AND {status} <> {update.value(DocumentStatus.FAILED.value)} AND (attribute_not_exists({lease}) "
            f"OR attribute_type({lease}, {update.value('NULL')}) OR {lease} = {me} "
            f"OR {until} < {update.value(iso(utc_now()))})"
        )
        return await self._update(update, assistant_id, document_id, condition, "take a document's lease")

    async def renew_lease(
        self, assistant_id: AssistantId, document_id: DocumentId, *, holder: str, expires_at: datetime
    ) -> bool:
        """Extend `holder`'s lease in one conditional UpdateItem; `False` when it is no longer theirs."""
        validate_id(assistant_id, field="assistantId")
        validate_id(document_id, field="documentId")
        update = UpdateExpression()
        update.set("leaseExpiresAt", iso(expires_at))
        condition = f"{update.name('leaseHolder')} = {update.value(holder)}"
        renewed = await self._update(update, assistant_id, document_id, condition, "renew a document's lease")
        return renewed is not None

    async def _update(
        self, update: UpdateExpression, assistant_id: str, document_id: str, condition: str, action: str
    ) -> Document | None:
        result = await conditional(
            action,
            self._client.update_item(
                TableName=self._table,
                Key=key(_pk(assistant_id), f"{_DOC}{document_id}"),
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **update.params(),
            ),
        )
        return None if isinstance(result, Rejected) else _document_from(result["Attributes"])

    async def list_unfinished(self, *, limit: int = 100) -> builtins.list[Document]:
        """Documents of every assistant still uploading or being ingested, least recently updated first.

        Read from the sparse index `unfinished` (eventually consistent: a change shows within moments).
        """
        validate_limit(limit)
        items, _ = await query_page(
            self._client,
            "list unfinished documents",
            {
                "TableName": self._table,
                "IndexName": DOCUMENTS_UNFINISHED.name,
                "KeyConditionExpression": "unfinishedPk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": _UNFINISHED_PK}},
            },
            limit=limit,
            key_names=("PK", "SK", "unfinishedPk", "unfinishedSk"),
            listing="unfinished",
            cursor_start=None,
        )
        return [_document_from(item) for item in items]

    async def delete(self, assistant_id: AssistantId, document_id: DocumentId) -> bool:
        """Remove one document record; whether it existed."""
        validate_id(assistant_id, field="assistantId")
        validate_id(document_id, field="documentId")
        response = await call(
            "delete a document",
            self._client.delete_item(
                TableName=self._table,
                Key=key(_pk(assistant_id), f"{_DOC}{document_id}"),
                ReturnValues="ALL_OLD",
            ),
        )
        return "Attributes" in response

    async def delete_all(self, assistant_id: AssistantId) -> builtins.list[Document]:
        """Remove every document record of an assistant; the removed records (for blob cleanup)."""
        validate_id(assistant_id, field="assistantId")
        items = await query_all(
            self._client,
            "list documents",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": _pk(assistant_id)}},
                "ConsistentRead": True,
            },
        )
        await batch_delete(
            self._client,
            "delete documents",
            self._table,
            [{"PK": item["PK"], "SK": item["SK"]} for item in items],
        )
        return [_document_from(item) for item in items]
