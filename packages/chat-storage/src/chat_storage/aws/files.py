"""Chat attachments and the per-user quota in DynamoDB: reservations are one conditional transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from chat_core.clock import utc_now
from chat_core.errors import ConflictError, InvalidInputError, NotFoundError, QuotaExceededError
from chat_core.files import FileStatus, FileUpload, UserFileQuota
from chat_core.ids import SessionId, UploadId, UserId, validate_id
from chat_core.pagination import Page, validate_limit
from chat_storage.aws._errors import Rejected, call, conditional, transact
from chat_storage.aws._items import (
    Item,
    attrs_of,
    entity_from,
    iso,
    key,
    model_attrs,
    query_page,
    start_key,
    to_item,
)
from chat_storage.aws._tables import FILES_BY_DATE, FILES_BY_SIZE, FILES_BY_TYPE, Index

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoFileRepository"]

_FILE = "FILE#"
_QUOTA = "QUOTA"
_WRITE_ATTEMPTS = 10
_SORT_INDEXES: dict[str, Index] = {"date": FILES_BY_DATE, "size": FILES_BY_SIZE, "type": FILES_BY_TYPE}


def _pk(user_id: str) -> str:
    return f"USER#{user_id}"


def _file_key(user_id: str, upload_id: str) -> Item:
    return key(_pk(user_id), f"{_FILE}{upload_id}")


def _file_item(upload: FileUpload) -> Item:
    created = iso(upload.created_at)
    return to_item(
        model_attrs(upload)
        | {
            "PK": _pk(upload.user_id),
            "SK": f"{_FILE}{upload.upload_id}",
            "dateSk": f"{created}#{upload.upload_id}",
            "sizeSk": f"{upload.size_bytes:016d}#{upload.upload_id}",
            "typeSk": f"{upload.mime_type[:200]}#{upload.upload_id}",
        }
    )


def _file_from(item: Mapping[str, Any]) -> FileUpload:
    return entity_from(FileUpload, attrs_of(item))


class DynamoFileRepository:
    """`FileRepository` on DynamoDB.

    Files are `USER#{uid}` / `FILE#{uploadId}`; the quota is `USER#{uid}` / `QUOTA` with counters
    changed only by `ADD`, in the same transaction as the file record. Local indexes order a user's
    files by date, size or type.
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _released(self, user_id: str, size_bytes: int) -> dict[str, Any]:
        """A transaction item giving a file's bytes back to the quota."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(_pk(user_id), _QUOTA),
                "UpdateExpression": "ADD usedBytes :bytes, fileCount :files",
                "ExpressionAttributeValues": {":bytes": {"N": str(-size_bytes)}, ":files": {"N": "-1"}},
            }
        }

    async def _read(self, user_id: str, upload_id: str) -> FileUpload | None:
        response = await call(
            "read a file record",
            self._client.get_item(
                TableName=self._table, Key=_file_key(user_id, upload_id), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else _file_from(item)

    async def reserve(self, upload: FileUpload, *, quota_bytes: int) -> FileUpload:
        """Create a pending record and add its size to the quota in one transaction.

        The quota update is conditional on `usedBytes <= quota - size`, so concurrent reservations can
        never overshoot the quota together.

        Raises:
            QuotaExceededError: with detail currentUsage, maxAllowed and requiredSpace.
            ConflictError: when the upload id exists.
        """
        validate_id(upload.user_id, field="userId")
        validate_id(upload.upload_id, field="uploadId")
        validate_id(upload.session_id, field="sessionId")
        pending = upload.model_copy(update={"status": FileStatus.PENDING})
        size = pending.size_bytes
        if size > quota_bytes:
            raise self._exceeded((await self.quota(upload.user_id)).used_bytes, quota_bytes, size)
        result = await transact(
            "reserve quota for a file",
            self._client,
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(_pk(upload.user_id), _QUOTA),
                        "UpdateExpression": "ADD usedBytes :bytes, fileCount :one",
                        "ConditionExpression": "attribute_not_exists(usedBytes) OR usedBytes <= :room",
                        "ExpressionAttributeValues": {
                            ":bytes": {"N": str(size)},
                            ":one": {"N": "1"},
                            ":room": {"N": str(quota_bytes - size)},
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _file_item(pending),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ],
        )
        if isinstance(result, Rejected):
            if result.failed(0):
                old = result.old_item(0)
                used = int(attrs_of(old).get("usedBytes", 0)) if old is not None else 0
                raise self._exceeded(used, quota_bytes, size)
            raise ConflictError(f"Upload {upload.upload_id!r} already exists.")
        return pending

    @staticmethod
    def _exceeded(used: int, quota_bytes: int, size: int) -> QuotaExceededError:
        return QuotaExceededError(
            f"This file needs {size} bytes; {max(quota_bytes - used, 0)} of {quota_bytes} bytes are left.",
            detail={"currentUsage": used, "maxAllowed": quota_bytes, "requiredSpace": size},
        )

    async def get(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """The caller's file, or `None` (also for someone else's id: the key holds the user id)."""
        validate_id(user_id, field="userId")
        validate_id(upload_id, field="uploadId")
        return await self._read(user_id, upload_id)

    async def mark_ready(
        self, user_id: UserId, upload_id: UploadId, *, etag: str | None = None
    ) -> FileUpload:
        """Pending -> ready (keeping `etag`) in one conditional UpdateItem.

        Raises:
            NotFoundError: when missing.
            ConflictError: when not pending.
        """
        validate_id(user_id, field="userId")
        validate_id(upload_id, field="uploadId")
        result = await conditional(
            "mark a file ready",
            self._client.update_item(
                TableName=self._table,
                Key=_file_key(user_id, upload_id),
                UpdateExpression="SET #status = :ready, updatedAt = :now, contentEtag = :etag",
                ConditionExpression="attribute_exists(PK) AND #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":ready": {"S": FileStatus.READY.value},
                    ":pending": {"S": FileStatus.PENDING.value},
                    ":now": {"S": iso(utc_now())},
                    ":etag": {"NULL": True} if etag is None else {"S": etag},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )
        if isinstance(result, Rejected):
            old = result.old_item(0)
            if old is None:
                raise NotFoundError(f"File {upload_id!r} was not found.")
            raise ConflictError(f"File {upload_id!r} is {attrs_of(old).get('status')!s}, not pending.")
        return _file_from(result["Attributes"])

    async def mark_failed(self, user_id: UserId, upload_id: UploadId) -> FileUpload:
        """Pending -> failed, releasing its bytes, in one transaction. Same errors as `mark_ready`."""
        validate_id(user_id, field="userId")
        validate_id(upload_id, field="uploadId")
        for _ in range(_WRITE_ATTEMPTS):
            current = await self._read(user_id, upload_id)
            if current is None:
                raise NotFoundError(f"File {upload_id!r} was not found.")
            if current.status is not FileStatus.PENDING:
                raise ConflictError(f"File {upload_id!r} is {current.status.value}, not pending.")
            failed = current.model_copy(update={"status": FileStatus.FAILED, "updated_at": utc_now()})
            result = await transact(
                "mark a file failed",
                self._client,
                [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _file_key(user_id, upload_id),
                            "UpdateExpression": "SET #status = :failed, updatedAt = :now",
                            "ConditionExpression": "#status = :pending",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":failed": {"S": FileStatus.FAILED.value},
                                ":pending": {"S": FileStatus.PENDING.value},
                                ":now": {"S": iso(failed.updated_at)},
                            },
                        }
                    },
                    self._released(user_id, current.size_bytes),
                ],
            )
            if not isinstance(result, Rejected):
                return failed
        raise ConflictError(f"File {upload_id!r} kept changing; try again.")

    async def delete(self, user_id: UserId, upload_id: UploadId) -> FileUpload | None:
        """Remove the record and release its bytes in one transaction; the removed record, or `None`."""
        validate_id(user_id, field="userId")
        validate_id(upload_id, field="uploadId")
        for _ in range(_WRITE_ATTEMPTS):
            current = await self._read(user_id, upload_id)
            if current is None:
                return None
            items: list[Any] = [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _file_key(user_id, upload_id),
                        "ConditionExpression": "#status = :seen",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":seen": {"S": current.status.value}},
                    }
                }
            ]
            if current.status is not FileStatus.FAILED:
                items.append(self._released(user_id, current.size_bytes))
            result = await transact(
                "delete a file record",
                self._client,
                items,
            )
            if not isinstance(result, Rejected):
                return current
        raise ConflictError(f"File {upload_id!r} kept changing; try again.")

    async def list(
        self,
        user_id: UserId,
        *,
        session_id: SessionId | None = None,
        status: Literal["ready", "any"] = "ready",
        limit: int = 50,
        cursor: str | None = None,
        sort_by: Literal["date", "size", "type"] = "date",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> Page[FileUpload]:
        """The caller's files (optionally of one session): a Query on the local index for `sort_by`."""
        validate_id(user_id, field="userId")
        if session_id is not None:
            validate_id(session_id, field="sessionId")
        validate_limit(limit)
        if sort_by not in _SORT_INDEXES:
            raise InvalidInputError("sortBy must be date, size or type.", field="sortBy")
        if sort_order not in ("asc", "desc"):
            raise InvalidInputError("sortOrder must be asc or desc.", field="sortOrder")
        if status not in ("ready", "any"):
            raise InvalidInputError("status must be ready or any.", field="status")
        index = _SORT_INDEXES[sort_by]
        pk = _pk(user_id)
        listing = f"files|{sort_by}|{sort_order}|{status}|{session_id or ''}"
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": sort_order == "asc",
            "ConsistentRead": True,
        }
        filters: list[str] = []
        if status == "ready":
            filters.append("#status = :ready")
            params["ExpressionAttributeNames"] = {"#status": "status"}
            params["ExpressionAttributeValues"][":ready"] = {"S": FileStatus.READY.value}
        if session_id is not None:
            filters.append("sessionId = :session")
            params["ExpressionAttributeValues"][":session"] = {"S": session_id}
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        items, next_cursor = await query_page(
            self._client,
            "list files",
            params,
            limit=limit,
            key_names=("PK", "SK", index.sort),
            listing=listing,
            cursor_start=start_key(
                cursor, listing=listing, fixed={"PK": pk}, prefixed={"SK": _FILE, index.sort: ""}
            ),
        )
        return Page(items=[_file_from(item) for item in items], next_cursor=next_cursor)

    async def quota(self, user_id: UserId) -> UserFileQuota:
        """Bytes and files currently counted against the caller (one GetItem)."""
        validate_id(user_id, field="userId")
        response = await call(
            "read the file quota",
            self._client.get_item(TableName=self._table, Key=key(_pk(user_id), _QUOTA), ConsistentRead=True),
        )
        attrs = attrs_of(response.get("Item") or {})
        return UserFileQuota(
            used_bytes=int(attrs.get("usedBytes", 0)), file_count=int(attrs.get("fileCount", 0))
        )
