"""The model catalogue: what a caller may use, and the admin's create/read/update/delete."""

from __future__ import annotations

from chat_core.errors import NotFoundError
from chat_core.identity import User
from chat_core.ids import ManagedModelId, validate_id
from chat_core.managed_models import ManagedModel, ManagedModelCreate, ManagedModelUpdate, usable_models
from chat_core.ports import ManagedModelRepository

__all__ = [
    "create_model",
    "delete_model",
    "get_model",
    "list_models",
    "list_usable_models",
    "update_model",
]


def _not_found(model_uuid: str) -> NotFoundError:
    return NotFoundError(f"Managed model {model_uuid!r} was not found.")


def _checked(model_uuid: str) -> ManagedModelId:
    return ManagedModelId(validate_id(model_uuid, field="id"))


async def list_usable_models(models: ManagedModelRepository, user: User) -> list[ManagedModel]:
    """Enabled models granted to everyone (`*`) or to one of the caller's roles."""
    return usable_models(await models.list(), user)


async def list_models(models: ManagedModelRepository) -> list[ManagedModel]:
    """Every model, enabled or not."""
    return await models.list()


async def create_model(models: ManagedModelRepository, request: ManagedModelCreate) -> ManagedModel:
    """Add a model; a taken `modelId` is a `ConflictError` (409)."""
    return await models.create(ManagedModel.model_validate(request.model_dump()))


async def get_model(models: ManagedModelRepository, model_uuid: str) -> ManagedModel:
    """One model by our id."""
    model = await models.get(_checked(model_uuid))
    if model is None:
        raise _not_found(model_uuid)
    return model


async def update_model(
    models: ManagedModelRepository, model_uuid: str, changes: ManagedModelUpdate
) -> ManagedModel:
    """Apply the fields sent; a `modelId` taken by another model is a `ConflictError`."""
    updated = await models.update(_checked(model_uuid), changes)
    if updated is None:
        raise _not_found(model_uuid)
    return updated


async def delete_model(models: ManagedModelRepository, model_uuid: str) -> None:
    """Remove a model from the catalogue."""
    if not await models.delete(_checked(model_uuid)):
        raise _not_found(model_uuid)
