"""The managed-model catalogue in DynamoDB: one fixed partition, `model_id` unique by transaction."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.ids import ManagedModelId, validate_id
from chat_core.managed_models import ManagedModel, ManagedModelUpdate
from chat_storage.aws._errors import Rejected, call, transact
from chat_storage.aws._items import Item, attrs_of, entity_from, key, model_attrs, query_all, to_item

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoManagedModelRepository"]

_CATALOGUE = "MODELS"
"""Every model lives in this one partition: the catalogue is small and listed by one Query."""
_WRITE_ATTEMPTS = 10


def _model_sk(model_uuid: str) -> str:
    return f"MODEL#{model_uuid}"


def _unique_pk(model_id: str) -> str:
    return f"MODELID#{model_id}"


class DynamoManagedModelRepository:
    """`ManagedModelRepository` on DynamoDB.

    The model item is `MODELS` / `MODEL#{uuid}`; a uniqueness item `MODELID#{modelId}` / `MODELID`
    holds a full copy, so `get_by_model_id` is one GetItem. Both are written in one transaction whose
    conditions reject a taken `modelId` and a concurrent change (a hidden `rev` counter).
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _items(self, model: ManagedModel, rev: int) -> tuple[Item, Item]:
        attrs = model_attrs(model) | {"rev": rev}
        main = to_item(attrs) | key(_CATALOGUE, _model_sk(model.id))
        unique = to_item(attrs | {"modelUuid": model.id}) | key(_unique_pk(model.model_id), "MODELID")
        return main, unique

    async def _read(self, model_uuid: str) -> Mapping[str, Any] | None:
        response = await call(
            "read a managed model",
            self._client.get_item(
                TableName=self._table, Key=key(_CATALOGUE, _model_sk(model_uuid)), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else attrs_of(item)

    async def get(self, model_uuid: ManagedModelId) -> ManagedModel | None:
        """By our id."""
        validate_id(model_uuid, field="id")
        attrs = await self._read(model_uuid)
        return None if attrs is None else entity_from(ManagedModel, attrs)

    async def get_by_model_id(self, model_id: str) -> ManagedModel | None:
        """By the provider's model id: one GetItem on the uniqueness item."""
        if not model_id or len(model_id) > 256:
            raise InvalidInputError("modelId must be 1 to 256 characters.", field="modelId")
        response = await call(
            "read a managed model",
            self._client.get_item(
                TableName=self._table, Key=key(_unique_pk(model_id), "MODELID"), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else entity_from(ManagedModel, attrs_of(item))

    async def list(self) -> builtins.list[ManagedModel]:
        """Every model, ordered by `model_name`: one Query on the catalogue partition."""
        items = await query_all(
            self._client,
            "list managed models",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": _CATALOGUE}},
                "ConsistentRead": True,
            },
        )
        models = [entity_from(ManagedModel, attrs_of(item)) for item in items]
        return sorted(models, key=lambda model: (model.model_name, model.id))

    async def create(self, model: ManagedModel) -> ManagedModel:
        """Add a model; `ConflictError` when its `model_id` (or its id) is taken."""
        validate_id(model.id, field="id")
        main, unique = self._items(model, rev=1)
        result = await transact(
            "create a managed model",
            self._client,
            [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": main,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": unique,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ],
        )
        if isinstance(result, Rejected):
            if result.failed(1):
                raise ConflictError(f"A managed model with modelId {model.model_id!r} already exists.")
            raise ConflictError(f"A managed model with id {model.id!r} already exists.")
        return model

    async def update(self, model_uuid: ManagedModelId, changes: ManagedModelUpdate) -> ManagedModel | None:
        """Apply `changes`; `None` when missing; `ConflictError` when a new `model_id` is taken."""
        validate_id(model_uuid, field="id")
        for _ in range(_WRITE_ATTEMPTS):
            attrs = await self._read(model_uuid)
            if attrs is None:
                return None
            current = entity_from(ManagedModel, attrs)
            updated = current.updated(changes)
            rev = int(attrs.get("rev", 0))
            main, unique = self._items(updated, rev=rev + 1)
            same_rev = {
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": {":rev": {"N": str(rev)}},
            }
            owned = {
                "ConditionExpression": "modelUuid = :uuid",
                "ExpressionAttributeValues": {":uuid": {"S": model_uuid}},
            }
            items: list[Any] = [{"Put": {"TableName": self._table, "Item": main, **same_rev}}]
            if updated.model_id == current.model_id:
                items.append({"Put": {"TableName": self._table, "Item": unique, **owned}})
            else:
                old_unique = key(_unique_pk(current.model_id), "MODELID")
                items.append({"Delete": {"TableName": self._table, "Key": old_unique, **owned}})
                items.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": unique,
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    }
                )
            result = await transact(
                "update a managed model",
                self._client,
                items,
            )
            if not isinstance(result, Rejected):
                return updated
            if result.failed(2):
                raise ConflictError(f"A managed model with modelId {updated.model_id!r} already exists.")
        raise ConflictError(f"Managed model {model_uuid!r} kept changing; try again.")

    async def delete(self, model_uuid: ManagedModelId) -> bool:
        """Remove the model and its uniqueness item together; `False` when it was missing."""
        validate_id(model_uuid, field="id")
        for _ in range(_WRITE_ATTEMPTS):
            attrs = await self._read(model_uuid)
            if attrs is None:
                return False
            model_id = str(attrs["modelId"])
            rev = int(attrs.get("rev", 0))
            result = await transact(
                "delete a managed model",
                self._client,
                [
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": key(_CATALOGUE, _model_sk(model_uuid)),
                            "ConditionExpression": "rev = :rev",
                            "ExpressionAttributeValues": {":rev": {"N": str(rev)}},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": key(_unique_pk(model_id), "MODELID"),
                            "ConditionExpression": "modelUuid = :uuid",
                            "ExpressionAttributeValues": {":uuid": {"S": model_uuid}},
                        }
                    },
                ],
            )
            if not isinstance(result, Rejected):
                return True
        raise ConflictError(f"Managed model {model_uuid!r} kept changing; try again.")
