"""`GET /models` for everyone, `/admin/managed-models` CRUD for administrators."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app_api.dependencies import AdminUser, CurrentUser, StorageDep
from app_api.managed_models import service
from app_api.managed_models.schemas import ManagedModelPage
from chat_core.managed_models import ManagedModel, ManagedModelCreate, ManagedModelUpdate
from chat_http.errors import error_responses

__all__ = ["admin_router", "router"]

router = APIRouter(tags=["models"])
admin_router = APIRouter(prefix="/admin/managed-models", tags=["admin"], responses=error_responses(403))


@router.get("/models", response_model=ManagedModelPage)
async def read_usable_models(user: CurrentUser, storage: StorageDep) -> ManagedModelPage:
    """The enabled models the caller's roles may use."""
    return ManagedModelPage.of(await service.list_usable_models(storage.managed_models, user))


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
