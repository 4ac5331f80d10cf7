"""`GET /models` for everyone, `/admin/managed-models` CRUD for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app_api.dependencies import AdminUser, CurrentPermissions, StorageDep, SystemAdminUser
from app_api.managed_models import service
from app_api.managed_models.schemas import ManagedModelPage
from app_api.roles import service as roles_service
from chat_core.managed_models import ManagedModel, ManagedModelCreate, ManagedModelUpdate
from chat_http.errors import error_responses

__all__ = ["admin_router", "router"]

router = APIRouter(tags=["models"])
admin_router = APIRouter(prefix="/admin/managed-models", tags=["admin"], responses=error_responses(403))


@router.get("/models", response_model=ManagedModelPage)
async def read_usable_models(permissions: CurrentPermissions, storage: StorageDep) -> ManagedModelPage:
    """The enabled models the caller's AppRoles grant."""
    return ManagedModelPage.of(await service.list_usable_models(storage.managed_models, permissions))


@admin_router.get("", response_model=ManagedModelPage)
async def read_managed_models(admin: AdminUser, storage: StorageDep) -> ManagedModelPage:
    """Admin: every model in the catalogue."""
    return ManagedModelPage.of(await service.list_models(storage.managed_models))


@admin_router.post(
    "", response_model=ManagedModel, status_code=status.HTTP_201_CREATED, responses=error_responses(409)
)
async def create_managed_model(
    body: ManagedModelCreate, admin: AdminUser, storage: StorageDep
) -> ManagedModel:
    """Admin: add a model; 409 when its `modelId` is taken."""
    return await service.create_model(storage.managed_models, body)


@admin_router.get("/{model_uuid}", response_model=ManagedModel, responses=error_responses(404))
async def read_managed_model(model_uuid: str, admin: AdminUser, storage: StorageDep) -> ManagedModel:
    """Admin: one model."""
    return await service.get_model(storage.managed_models, model_uuid)


@admin_router.put("/{model_uuid}", response_model=ManagedModel, responses=error_responses(404, 409))
async def update_managed_model(
    model_uuid: str, body: ManagedModelUpdate, admin: AdminUser, storage: StorageDep
) -> ManagedModel:
    """Admin: change the fields sent."""
    return await service.update_model(storage.managed_models, model_uuid, body)


@admin_router.delete(
    "/{model_uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
)
async def delete_managed_model(model_uuid: str, admin: AdminUser, storage: StorageDep) -> Response:
    """Admin: remove a model."""
    await service.delete_model(storage.managed_models, model_uuid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.post("/{model_uuid}/sync-roles", response_model=ManagedModel, responses=error_responses(404))
async def sync_managed_model_roles(
    model_uuid: str, admin: SystemAdminUser, storage: StorageDep
) -> ManagedModel:
    """System admin: set `allowedAppRoles` to the AppRoles that grant this model."""
    return await roles_service.sync_model_roles(
        storage.roles, storage.managed_models, service.checked_id(model_uuid)
    )
