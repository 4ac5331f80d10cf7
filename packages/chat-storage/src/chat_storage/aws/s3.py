"""Blob storage on S3 (or anything that speaks its API, such as a moto server)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chat_core.errors import InternalError, InvalidInputError, UnavailableError
from chat_core.ports import BlobInfo
from chat_storage.aws._errors import call, found

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import ObjectIdentifierTypeDef

__all__ = ["S3BlobStore"]

_log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"[A-Za-z0-9._()\[\] @:+=,!-]{1,255}")
_MAX_KEY = 1024
_MAX_EXPIRY = 7 * 24 * 3600
"""SigV4 presigned URLs live at most seven days."""
_DELETE_BATCH = 1000
_UNSAFE_FALLBACK = re.compile(r"[^A-Za-z0-9._ ()\[\]-]")


def _checked_key(key: str, *, field: str = "key") -> str:
    """Return `key` if every `/`-separated segment is safe (no `.`/`..`, no empty segment)."""
    segments = key.split("/")
    if (
        not key
        or len(key) > _MAX_KEY
        or any(not _SEGMENT.fullmatch(segment) or segment in {".", ".."} for segment in segments)
    ):
        shown = key[:40] + "..." if len(key) > 40 else key
        raise InvalidInputError(f"{field} {shown!r} is not a valid blob key.", field=field)
    return key


def _checked_expiry(expires_in: int) -> int:
    if not 1 <= expires_in <= _MAX_EXPIRY:
        raise InvalidInputError(f"expiresIn must be between 1 and {_MAX_EXPIRY} seconds.", field="expiresIn")
    return expires_in


def _content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = _UNSAFE_FALLBACK.sub("_", filename).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class S3BlobStore:
    """`BlobStore` on one S3 bucket; keys are validated before any request is made.

    Presigned uploads sign the content type; S3 cannot cap the size of a presigned `PUT`, so callers
    check the stored size with `head` before accepting an upload.
    """

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Write the object (S3 replaces objects atomically)."""
        await call(
            "store a blob",
            self._client.put_object(
                Bucket=self._bucket, Key=_checked_key(key), Body=data, ContentType=content_type
            ),
        )

    async def get(self, key: str) -> bytes | None:
        """The bytes, or `None`."""
        response = await found(
            "read a blob", self._client.get_object(Bucket=self._bucket, Key=_checked_key(key))
        )
        if response is None:
            return None
        async with response["Body"] as body:
            return await call("read a blob", body.read())

    async def head(self, key: str) -> BlobInfo | None:
        """Size and type, or `None`."""
        response = await found(
            "inspect a blob", self._client.head_object(Bucket=self._bucket, Key=_checked_key(key))
        )
        if response is None:
            return None
        return BlobInfo(
            key=key,
            size_bytes=response["ContentLength"],
            content_type=response.get("ContentType"),
            etag=response.get("ETag"),
        )

    async def delete(self, key: str) -> None:
        """Remove one object; missing is a no-op (S3 deletes are idempotent)."""
        await call("delete a blob", self._client.delete_object(Bucket=self._bucket, Key=_checked_key(key)))

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (which must end with `/`): paged list, batch deletes."""
        if not prefix.endswith("/"):
            raise InvalidInputError("prefix must end with '/'.", field="prefix")
        _checked_key(prefix[:-1], field="prefix")
        removed = 0
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": _DELETE_BATCH}
        while True:
            listing = await call("list blobs", self._client.list_objects_v2(**request))
            objects: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"]} for entry in listing.get("Contents", [])
            ]
            if objects:
                response = await call(
                    "delete blobs",
                    self._client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True}
                    ),
                )
                errors = response.get("Errors", [])
                if errors:
                    codes = sorted({str(error.get("Code")) for error in errors})
                    _log.warning(
                        "deleting under %r: %d blobs refused (%s)", prefix, len(errors), ", ".join(codes)
                    )
                    cls = UnavailableError if {"SlowDown", "InternalError"} & set(codes) else InternalError
                    raise cls(f"Could not delete {len(errors)} blobs under {prefix!r}.")
                removed += len(objects)
            token = listing.get("NextContinuationToken")
            if not listing.get("IsTruncated") or not token:
                return removed
            request["ContinuationToken"] = token

    async def presign_upload(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> str:
        """A URL a browser can `PUT` the object to (with this `Content-Type`) until it expires."""
        if max_bytes < 1:
            raise InvalidInputError("maxBytes must be positive.", field="maxBytes")
        return await call(
            "sign an upload URL",
            self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self._bucket, "Key": _checked_key(key), "ContentType": content_type},
                ExpiresIn=_checked_expiry(expires_in),
                HttpMethod="PUT",
            ),
        )

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        """A URL a browser can `GET` the object from until it expires, saving it as `filename`."""
        return await call(
            "sign a download URL",
            self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": _checked_key(key),
                    "ResponseContentDisposition": _content_disposition(filename),
                },
                ExpiresIn=_checked_expiry(expires_in),
            ),
        )
