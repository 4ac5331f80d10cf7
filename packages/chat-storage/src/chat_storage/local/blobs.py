"""Blobs as files under the data directory, and signed, expiring URLs that app-api serves.

Each object is one file: a one-line JSON header (content type, size) followed by the bytes. It is
written to a temporary file in the same directory, flushed, and moved into place with `os.replace`,
so a reader sees the whole old object or the whole new one.

A presigned URL is `{blob_base_url}/{token}`. The token is `payload.signature`, both base64url: the
payload names the operation, key, content type, size limit, download name and expiry; the signature
is HMAC-SHA256 over the payload with the configured secret. `verify_blob_grant` checks one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from chat_core.errors import (
    ChatError,
    ConflictError,
    InternalError,
    InvalidInputError,
    PermissionDeniedError,
    UnavailableError,
)
from chat_core.ports import BlobInfo

__all__ = ["BlobGrant", "LocalBlobStore", "validate_blob_key", "verify_blob_grant"]

BlobOperation = Literal["put", "get"]

_SEGMENT = re.compile(r"[A-Za-z0-9_@:+=,()\[\]-][A-Za-z0-9._ @:+=,()\[\]-]{0,199}")
_MAX_KEY = 1024
_MAX_TOKEN = 8192
_MAX_EXPIRES_IN = 7 * 24 * 3600
_TEMP_PREFIX = ".tmp-"
_UNAVAILABLE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM}
)


def validate_blob_key(key: str, *, field: str = "key") -> str:
    """Return `key` if it is a relative, `/`-separated path of safe segments.

    Segments are 1-200 characters of `[A-Za-z0-9._ @:+=,()[]-]` and do not start with a dot, so
    `..`, hidden files, absolute paths, backslashes and empty segments are all refused.

    Raises:
        InvalidInputError: naming `field`.
    """
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= _MAX_KEY
        or not all(_SEGMENT.fullmatch(segment) for segment in key.split("/"))
    ):
        shown = key[:60] + "..." if isinstance(key, str) and len(key) > 60 else key
        raise InvalidInputError(f"{field} {shown!r} is not a valid storage key.", field=field)
    return key


@contextmanager
def _translate_os_errors(key: str) -> Iterator[None]:
    """OS errors of the blob directory as `chat_core.errors`, in one place."""
    try:
        yield
    except ChatError:
        raise
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        raise ConflictError(f"Storage key {key!r} clashes with another object's key.") from exc
    except OSError as exc:
        if exc.errno in _UNAVAILABLE_ERRNOS:
            raise UnavailableError("The blob directory cannot be written or read; try again.") from exc
        raise InternalError("The blob directory failed.") from exc
    except ValueError as exc:
        raise InternalError(f"The stored object {key!r} is corrupt.") from exc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        raise InternalError("No blob signing secret is configured.")
    return raw


@dataclass(frozen=True, slots=True)
class BlobGrant:
    """What a verified blob URL allows."""

    operation: BlobOperation
    key: str
    content_type: str | None
    """For `put`: the type the upload must declare."""
    max_bytes: int | None
    """For `put`: the largest body to accept."""
    filename: str | None
    """For `get`: the name to offer in `Content-Disposition`."""
    expires_at: datetime


def _sign(grant: dict[str, Any], secret: bytes) -> str:
    payload = _b64(json.dumps(grant, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def verify_blob_grant(
    token: str, secret: str | bytes, *, operation: BlobOperation, now: float | None = None
) -> BlobGrant:
    """Check a token from a presigned URL and return what it grants.

    Args:
        token: The last path segment of the URL.
        secret: The `blob_signing_secret` the store signed with.
        operation: `put` for uploads, `get` for downloads; a token for the other one is refused.
        now: Unix time to check expiry against (the current time by default).

    Raises:
        InvalidInputError: the token is malformed.
        PermissionDeniedError: the signature is wrong, the token expired, or it is for another operation.
    """
    key = _secret_bytes(secret)
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 1:
        raise InvalidInputError("The blob link is malformed.", field="token")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
        grant = json.loads(_unb64(payload))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("The blob link is malformed.", field="token") from exc
    expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise PermissionDeniedError("The blob link is not valid.")
    if (
        not isinstance(grant, dict)
        or grant.get("o") not in ("put", "get")
        or not isinstance(grant.get("e"), int)
        or not isinstance(grant.get("k"), str)
    ):
        raise InvalidInputError("The blob link is malformed.", field="token")
    if grant["o"] != operation:
        raise PermissionDeniedError(f"This link does not allow {operation!r}.")
    if grant["e"] <= (time.time() if now is None else now):
        raise PermissionDeniedError("The blob link has expired.")
    return BlobGrant(
        operation=grant["o"],
        key=validate_blob_key(grant["k"]),
        content_type=grant.get("t"),
        max_bytes=grant.get("m"),
        filename=grant.get("f"),
        expires_at=datetime.fromtimestamp(grant["e"], UTC),
    )


def _header(content_type: str, data: bytes) -> bytes:
    fields = {"contentType": content_type, "size": len(data), "etag": hashlib.sha256(data).hexdigest()}
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def _write_file(path: Path, data: bytes, content_type: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(_header(content_type, data))
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        os.unlink(temp_name)
        raise


def _read_file(path: Path, *, with_data: bool) -> tuple[dict[str, Any], bytes] | None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:  # JUSTIFICATION: a missing object is `None` by the port's contract.
        return None
    with handle:
        header = json.loads(handle.readline())
        return header, handle.read() if with_data else b""


def _delete_tree(directory: Path) -> int:
    removed = 0
    for parent, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            if not name.startswith(_TEMP_PREFIX):
                Path(parent, name).unlink(missing_ok=True)
                removed += 1
        for name in dirs:
            try:
                Path(parent, name).rmdir()
            except OSError:  # JUSTIFICATION: cleanup only; a directory a concurrent put refilled stays.
                continue
    return removed


class LocalBlobStore:
    """`BlobStore` on the local file system, with URLs served by app-api.

    Args:
        root: Directory holding the objects (created when needed).
        base_url: Where app-api mounts the signed blob routes.
        signing_secret: HMAC key for presigned URLs; presigning fails without one.
    """

    def __init__(self, root: Path, *, base_url: str, signing_secret: str | bytes) -> None:
        self._root = root
        self._base_url = base_url.rstrip("/")
        self._secret = signing_secret

    def _path(self, key: str) -> Path:
        return self._root / validate_blob_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Write atomically (a temporary file moved into place)."""
        path = self._path(key)
        with _translate_os_errors(key):
            await asyncio.to_thread(_write_file, path, bytes(data), content_type)

    async def get(self, key: str) -> bytes | None:
        """The bytes, or `None`."""
        path = self._path(key)
        with _translate_os_errors(key):
            found = await asyncio.to_thread(_read_file, path, with_data=True)
        return found[1] if found else None

    async def head(self, key: str) -> BlobInfo | None:
        """Size and type from the object's header, or `None`."""
        path = self._path(key)
        with _translate_os_errors(key):
            found = await asyncio.to_thread(_read_file, path, with_data=False)
        if found is None:
            return None
        header = found[0]
        return BlobInfo(
            key=key,
            size_bytes=int(header["size"]),
            content_type=header.get("contentType"),
            etag=header.get("etag"),
        )

    async def delete(self, key: str) -> None:
        """Remove one object; missing is a no-op."""
        path = self._path(key)
        with _translate_os_errors(key):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix` (which must end with `/`); how many were removed."""
        if not prefix.endswith("/"):
            raise InvalidInputError("A prefix must end with '/'.", field="prefix")
        directory = self._path(prefix[:-1])
        with _translate_os_errors(prefix):
            return await asyncio.to_thread(_delete_tree, directory)

    async def presign_upload(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> str:
        """A URL a browser can `PUT` the object to until it expires."""
        validate_blob_key(key)
        if max_bytes < 1:
            raise InvalidInputError("max_bytes must be positive.", field="maxBytes")
        grant = {"o": "put", "k": key, "t": content_type, "m": max_bytes, "e": self._expiry(expires_in)}
        return f"{self._base_url}/{_sign(grant, _secret_bytes(self._secret))}"

    async def presign_download(self, key: str, *, filename: str, expires_in: int) -> str:
        """A URL a browser can `GET` the object from until it expires."""
        validate_blob_key(key)
        grant = {"o": "get", "k": key, "f": filename, "e": self._expiry(expires_in)}
        return f"{self._base_url}/{_sign(grant, _secret_bytes(self._secret))}"

    @staticmethod
    def _expiry(expires_in: int) -> int:
        if not 1 <= expires_in <= _MAX_EXPIRES_IN:
            raise InvalidInputError(
                f"expires_in must be between 1 and {_MAX_EXPIRES_IN} seconds.", field="expiresIn"
            )
        return int(time.time()) + expires_in
