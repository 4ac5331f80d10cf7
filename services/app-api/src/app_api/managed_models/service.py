"""The model catalogue: what a caller may use, and the admin's create/read/update/delete."""

from __future__ import annotations

from chat_core.errors import NotFoundError
from chat_core.ids import ManagedModelId, validate_id
from chat_core.managed_models import ManagedModel, ManagedModelCreate, ManagedModelUpdate
from chat_core.ports import ManagedModelRepository
from chat_core.roles import UserPermissions, model_allowed

__all__ = [
    "can_use",
    "checked_id",
    "create_model",
    "delete_model",
    "get_model",
    "list_models",
    "list_usable_models",
    "update_model",
]


def _not_found(model_uuid: str) -> NotFoundError:
    return NotFoundError(f"Managed model {model_uuid!r} was not found.")


def checked_id(model_uuid: str) -> ManagedModelId:
    """A managed-model id from a path, validated."""
    return ManagedModelId(validate_id(model_uuid, field="id"))


def can_use(model: ManagedModel, permissions: UserPermissions) -> bool:
    """The AppRole rule of `chat_core.roles` applied to one managed model."""
    return model_allowed(
        permissions,
        model_id=model.model_id,
        enabled=model.enabled,
        allowed_app_roles=model.allowed_app_roles,
        available_to_roles=model.available_to_roles,
    )


async def list_usable_models(
    models: ManagedModelRepository, permissions: UserPermissions
) -> list[ManagedModel]:
    """The enabled models the caller's AppRoles (or, for older models, JWT roles) grant."""
    return [model for model in await models.list() if can_use(model, permissions)]


async def list_models(models: ManagedModelRepository) -> list[ManagedModel]:
    """Every model, enabled or not."""
    return await models.list()


async def create_model(models: ManagedModelRepository, request: ManagedModelCreate) -> ManagedModel:
    """Add a model; a taken `modelId` is a `ConflictError` (409)."""
    return await models.create(ManagedModel.model_validate(request.model_dump()))


async def get_model(models: ManagedModelRepository, model_uuid: str) -> ManagedModel:
    """One model by our id."""
    model = await models.get(checked_id(model_uuid))
    if model is None:
        raise _not_found(model_uuid)
    return model


async def update_model(
    models: ManagedModelRepository, model_uuid: str, changes: ManagedModelUpdate
) -> ManagedModel:
    """Apply the fields sent; a `modelId` taken by another model is a `ConflictError`."""
    updated = await models.update(checked_id(model_uuid), changes)
    if updated is None:
        raise _not_found(model_uuid)
    return updated


async def delete_model(models: ManagedModelRepository, model_uuid: str) -> None:
    """Remove a model from the catalogue."""
    if not await models.delete(checked_id(model_uuid)):
        raise _not_found(model_uuid)
