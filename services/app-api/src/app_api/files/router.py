"""`/files`: presign, complete, list, delete, quota."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from app_api.dependencies import CurrentUser, SettingsDep, StateDep, StorageDep
from app_api.files import service
from app_api.files.schemas import FilePage, FileRead, PresignRead, PresignRequest, QuotaRead
from chat_core.files import UploadPolicy
from chat_http.errors import error_doc, error_responses

__all__ = ["router"]


async def _upload_policy(state: StateDep) -> UploadPolicy:
    return state.upload_policy


UploadPolicyDep = Annotated[UploadPolicy, Depends(_upload_policy)]


async def _s3_bucket(settings: SettingsDep) -> str | None:
    """The aws backend's bucket (for `s3Uri`); `None` on sqlite."""
    if settings.storage != "aws":
        return None
    from chat_storage.aws import ResourceNames

    return ResourceNames(settings.resource_prefix).bucket


S3BucketDep = Annotated[str | None, Depends(_s3_bucket)]

router = APIRouter(prefix="/files", tags=["files"])


@router.post(
    "/presign",
    response_model=PresignRead,
    responses={
        429: error_doc(
            "Over quota: `error.code` is `quota_exceeded` and `error.detail` is "
            "`{currentUsage, maxAllowed, requiredSpace}`"
        )
    },
)
async def presign_upload(
    body: PresignRequest,
    user: CurrentUser,
    storage: StorageDep,
    policy: UploadPolicyDep,
    settings: SettingsDep,
) -> PresignRead:
    """Reserve quota for a file and get a URL to `PUT` it to (then call `/files/{uploadId}/complete`)."""
    presign = await service.presign_upload(
        storage.files,
        storage.blobs,
        policy,
        user,
        session_id=body.session_id,
        filename=body.filename,
        mime_type=body.mime_type,
        size_bytes=body.size_bytes,
        expires_in=settings.file_upload_expires_in,
    )
    return PresignRead(
        upload_id=presign.upload.upload_id, presigned_url=presign.url, expires_at=presign.expires_at
    )


@router.post("/{upload_id}/complete", response_model=FileRead, responses=error_responses(404, 409))
async def complete_upload(
    upload_id: str, user: CurrentUser, storage: StorageDep, s3_bucket: S3BucketDep
) -> FileRead:
    """Confirm the upload; the file becomes `ready` to attach to a message."""
    upload = await service.complete_upload(storage.files, storage.blobs, user, upload_id)
    return FileRead.of(upload, s3_bucket=s3_bucket)


@router.get("", response_model=FilePage)
async def read_files(
    user: CurrentUser,
    storage: StorageDep,
    s3_bucket: S3BucketDep,
    session_id: Annotated[str | None, Query(alias="sessionId", max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    sort_by: Annotated[Literal["date", "size", "type"], Query(alias="sortBy")] = "date",
    sort_order: Annotated[Literal["asc", "desc"], Query(alias="sortOrder")] = "desc",
) -> FilePage:
    """The caller's ready files, optionally of one session."""
    page = await service.list_files(
        storage.files,
        user,
        session_id=session_id,
        limit=limit,
        cursor=cursor,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    return FilePage(
        files=[FileRead.of(item, s3_bucket=s3_bucket) for item in page.items], next_cursor=page.next_cursor
    )


@router.get("/quota", response_model=QuotaRead)
async def read_quota(user: CurrentUser, storage: StorageDep, policy: UploadPolicyDep) -> QuotaRead:
    """Bytes and files the caller holds, and the limit."""
    quota = await service.get_quota(storage.files, user)
    return QuotaRead(
        used_bytes=quota.used_bytes, max_bytes=policy.user_quota_bytes, file_count=quota.file_count
    )


@router.delete(
    "/{upload_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_file(upload_id: str, user: CurrentUser, storage: StorageDep) -> Response:
    """Delete a file; its bytes no longer count against the quota."""
    await service.delete_file(storage.files, storage.blobs, user, upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
