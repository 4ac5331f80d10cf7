"""The managed-model catalogue in SQLite; `model_id` has a unique index for keyed lookups."""

from __future__ import annotations

import builtins

from pydantic import ValidationError

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import ManagedModelId, validate_id
from chat_core.managed_models import ManagedModel, ManagedModelUpdate
from chat_storage.local._db import Database, Transaction

__all__ = ["LocalManagedModelRepository"]


def _taken(model_id: str) -> ConflictError:
    return ConflictError(f"A managed model with modelId {model_id!r} already exists.", field="modelId")


def _model_id(model_id: str) -> str:
    if not 1 <= len(model_id) <= 256:
        raise InvalidInputError("modelId must be 1 to 256 characters.", field="modelId")
    return model_id


class LocalManagedModelRepository:
    """`ManagedModelRepository` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, model_uuid: ManagedModelId) -> ManagedModel | None:
        """By our id."""
        validate_id(model_uuid, field="id")
        row = await self._db.fetch_one("SELECT body FROM managed_models WHERE id = ?", (model_uuid,))
        return ManagedModel.model_validate_json(row["body"]) if row else None

    async def get_by_model_id(self, model_id: str) -> ManagedModel | None:
        """By the provider's model id (a unique index, never a scan)."""
        row = await self._db.fetch_one(
            "SELECT body FROM managed_models WHERE model_id = ?", (_model_id(model_id),)
        )
        return ManagedModel.model_validate_json(row["body"]) if row else None

    async def list(self) -> builtins.list[ManagedModel]:
        """Every model, ordered by `model_name`."""
        rows = await self._db.fetch_all("SELECT body FROM managed_models ORDER BY model_name, id")
        return [ManagedModel.model_validate_json(row["body"]) for row in rows]

    async def create(self, model: ManagedModel) -> ManagedModel:
        """Add a model; `ConflictError` when its `model_id` (or its id) is taken."""
        validate_id(model.id, field="id")
        async with self._db.transaction() as tx:
            if await self._holder(tx, model.model_id) is not None:
                raise _taken(model.model_id)
            await tx.execute(
                "INSERT INTO managed_models (id, model_id, model_name, body) VALUES (?, ?, ?, ?)",
                (model.id, model.model_id, model.model_name, model.model_dump_json(by_alias=True)),
            )
        return model

    async def update(self, model_uuid: ManagedModelId, changes: ManagedModelUpdate) -> ManagedModel | None:
        """Apply `changes`; `None` when missing; `ConflictError` when a new `model_id` is taken."""
        validate_id(model_uuid, field="id")
        async with self._db.transaction() as tx:
            row = await tx.fetch_one("SELECT body FROM managed_models WHERE id = ?", (model_uuid,))
            if row is None:
                return None
            try:
                updated = ManagedModel.model_validate_json(row["body"]).updated(changes)
            except ValidationError as exc:
                raise InvalidInputError("The managed model update is not valid.") from exc
            holder = await self._holder(tx, updated.model_id)
            if holder is not None and holder != model_uuid:
                raise _taken(updated.model_id)
            await tx.execute(
                "UPDATE managed_models SET model_id = ?, model_name = ?, body = ? WHERE id = ?",
                (updated.model_id, updated.model_name, updated.model_dump_json(by_alias=True), model_uuid),
            )
        return updated

    async def delete(self, model_uuid: ManagedModelId) -> bool:
        """Remove the model; `False` when it was missing."""
        validate_id(model_uuid, field="id")
        async with self._db.transaction() as tx:
            changed = await tx.execute("DELETE FROM managed_models WHERE id = ?", (model_uuid,))
        return changed == 1

    @staticmethod
    async def _holder(tx: Transaction, model_id: str) -> str | None:
        row = await tx.fetch_one("SELECT id FROM managed_models WHERE model_id = ?", (model_id,))
        return str(row["id"]) if row else None
