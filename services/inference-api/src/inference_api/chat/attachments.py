"""Attachments of a turn: inline base64 files and uploaded files -> model blocks and stored references.

Images become image blocks and documents document blocks with a sanitised name (Bedrock accepts only
`[A-Za-z0-9 -()[]]`), as the original prompt builder did. Every attachment is accounted for: a file
that breaks the limits, has an unsupported type or cannot be resolved fails the turn with an error
naming it, where the original silently dropped it. The stored user message keeps a reference (name,
format, upload id, size), never the bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final

from chat_agent.models.base import AttachmentText
from chat_core.errors import InvalidInputError
from chat_core.files import UploadPolicy, sanitize_document_name
from chat_core.identity import User
from chat_core.messages import Attachment, ContentBlock
from chat_rag.parsing import SUPPORTED_EXTENSIONS, parse_document
from chat_storage import FileSources, resolve_files
from inference_api.chat.schemas import FileContent

__all__ = ["ResolvedAttachment", "attachment_texts", "document_names", "resolve_attachments"]

_IMAGE_FORMATS: Final = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_DOCUMENT_FORMATS: Final = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_EXTENSIONS: Final = {
    f".{name}": name for name in ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
} | {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".gif": "gif",
    ".webp": "webp",
    ".htm": "html",
    ".markdown": "md",
}
_IMAGE_NAMES: Final = frozenset(_IMAGE_FORMATS.values())
_PARSE_MAX_PAGES: Final = 50


@dataclass(frozen=True, slots=True)
class ResolvedAttachment:
    """One attachment, ready for the model and for the stored message."""

    filename: str
    mime_type: str
    data: bytes
    format: str
    is_image: bool
    upload_id: str | None

    def model_block(self, name: str) -> dict[str, Any]:
        """The strands content block (`name` is the sanitised, unique document name)."""
        if self.is_image:
            return {"image": {"format": self.format, "source": {"bytes": self.data}}}
        return {"document": {"format": self.format, "name": name, "source": {"bytes": self.data}}}

    def stored_block(self) -> ContentBlock:
        """The reference kept in history."""
        reference = Attachment(
            format=self.format, name=self.filename, upload_id=self.upload_id, size_bytes=len(self.data)
        )
        return (
            ContentBlock(type="image", image=reference)
            if self.is_image
            else ContentBlock(type="document", document=reference)
        )


def _format_of(filename: str, mime_type: str, field: str) -> str:
    media = mime_type.split(";")[0].strip().lower()
    found = _IMAGE_FORMATS.get(media) or _DOCUMENT_FORMATS.get(media)
    found = found or _EXTENSIONS.get(PurePosixPath(filename.lower()).suffix)
    if found is None:
        raise InvalidInputError(
            f"The attachment {filename!r} has a type the model cannot take ({mime_type!r}).", field=field
        )
    return found


def _inline(policy: UploadPolicy, index: int, file: FileContent) -> ResolvedAttachment:
    field = f"files.{index}"
    if file.content_type.split(";")[0].strip().lower() not in policy.allowed_types:
        raise InvalidInputError(f"Files of type {file.content_type!r} are not supported.", field=field)
    if len(file.data) * 3 // 4 > policy.max_file_bytes + 3:
        raise InvalidInputError(
            f"The file {file.filename!r} is larger than {policy.max_file_bytes} bytes.",
            field=field,
            detail={"maxBytes": policy.max_file_bytes},
        )
    try:
        data = base64.b64decode(file.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"The file {file.filename!r} is not valid base64.", field=field) from exc
    if not data or len(data) > policy.max_file_bytes:
        raise InvalidInputError(
            f"The file {file.filename!r} must be 1 to {policy.max_file_bytes} bytes.",
            field=field,
            detail={"maxBytes": policy.max_file_bytes},
        )
    format_ = _format_of(file.filename, file.content_type, field)
    return ResolvedAttachment(file.filename, file.content_type, data, format_, format_ in _IMAGE_NAMES, None)


async def resolve_attachments(
    sources: FileSources,
    policy: UploadPolicy,
    user: User,
    files: Sequence[FileContent],
    upload_ids: Sequence[str],
    *,
    max_files: int,
) -> list[ResolvedAttachment]:
    """Inline files first, then uploaded ones, in the order given.

    Raises:
        InvalidInputError: too many files, a file too large, an unsupported type, invalid base64.
        NotFoundError: an upload id that is unknown or belongs to someone else.
        ConflictError: an upload that is not ready.
    """
    given = len(files) + len(upload_ids)
    if given > max_files:
        raise InvalidInputError(
            f"At most {max_files} files can be attached to one message; got {given}.",
            field="files" if files else "file_upload_ids",
            detail={"maxFiles": max_files, "given": given},
        )
    attachments = [_inline(policy, index, file) for index, file in enumerate(files)]
    if upload_ids:
        for resolved in await resolve_files(sources, user.user_id, upload_ids, max_files=max_files):
            format_ = _format_of(resolved.filename, resolved.mime_type, "file_upload_ids")
            attachments.append(
                ResolvedAttachment(
                    resolved.filename,
                    resolved.mime_type,
                    resolved.data,
                    format_,
                    format_ in _IMAGE_NAMES,
                    resolved.upload_id,
                )
            )
    return attachments


def document_names(attachments: Sequence[ResolvedAttachment]) -> list[str]:
    """Sanitised document names, made unique within the message as providers require."""
    names: list[str] = []
    for attachment in attachments:
        base = sanitize_document_name(attachment.filename)
        name, count = base, 1
        while name in names:
            count += 1
            name = f"{base} ({count})"
        names.append(name)
    return names


def _readable(attachment: ResolvedAttachment) -> bool:
    return not attachment.is_image and PurePosixPath(f"x.{attachment.format}").suffix in SUPPORTED_EXTENSIONS


def _text_of(attachment: ResolvedAttachment, max_bytes: int) -> AttachmentText:
    if not _readable(attachment):
        return AttachmentText(attachment.filename, None)
    parsed = parse_document(
        f"attachment.{attachment.format}",
        attachment.mime_type,
        attachment.data,
        max_bytes=max_bytes,
        max_pages=_PARSE_MAX_PAGES,
    )
    return AttachmentText(attachment.filename, "\n\n".join(block.text for block in parsed.blocks))


async def attachment_texts(
    attachments: Sequence[ResolvedAttachment], *, max_bytes: int
) -> tuple[AttachmentText, ...]:
    """The text of each attachment the offline model can read (images and spreadsheets it cannot).

    Raises:
        InvalidInputError: a document that claims a readable type but cannot be read (corrupt PDF...).
    """
    return tuple(
        await asyncio.gather(*(asyncio.to_thread(_text_of, item, max_bytes) for item in attachments))
    )
