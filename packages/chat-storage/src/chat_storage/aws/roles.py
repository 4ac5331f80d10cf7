"""AppRoles, the tool catalogue, tool preferences and sign-in states in DynamoDB.

Roles live in one partition of the roles table (`ROLES` / `ROLE#{id}`) and tools in one partition of
the tools table (`TOOLS` / `TOOL#{id}`): both catalogues are small and read whole by one Query. A
user's tool preferences are `PREFS#{uid}` / `TOOLS` in the tools table. Sign-ins in progress are
`STATE#{state}` / `STATE` in the logins table, with a `ttl` attribute DynamoDB expires them by.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chat_core.errors import ConflictError, InvalidInputError
from chat_core.identity import LoginState
from chat_core.ids import UserId, validate_id
from chat_core.roles import AppRole
from chat_core.tools import ToolDefinition, ToolPreferences
from chat_storage.aws._errors import Rejected, call, conditional, transact
from chat_storage.aws._items import attrs_of, entity_from, key, model_attrs, query_all, to_item

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoAppRoleRepository", "DynamoLoginStateStore", "DynamoToolRepository"]

_ROLES = "ROLES"
_TOOLS = "TOOLS"
_MAX_KEY = 128
_TRANSACTION_ITEMS = 100


def _checked(value: str, field: str) -> str:
    if not value or len(value) > _MAX_KEY:
        raise InvalidInputError(f"{field} must be 1 to {_MAX_KEY} characters.", field=field)
    return value


class _Catalogue:
    """Entities of one kind in one partition, keyed `{prefix}#{id}`."""

    def __init__(self, client: DynamoDBClient, table: str, partition: str, prefix: str, noun: str) -> None:
        self._client = client
        self._table = table
        self._partition = partition
        self._prefix = prefix
        self._noun = noun

    def _key(self, item_id: str) -> dict[str, Any]:
        return key(self._partition, f"{self._prefix}#{item_id}")

    def _item(self, item_id: str, entity: Any) -> dict[str, Any]:
        return to_item(model_attrs(entity)) | self._key(item_id)

    async def _get(self, item_id: str) -> dict[str, Any] | None:
        response = await call(
            f"read a {self._noun}",
            self._client.get_item(TableName=self._table, Key=self._key(item_id), ConsistentRead=True),
        )
        item = response.get("Item")
        return None if item is None else attrs_of(item)

    async def _list(self) -> list[dict[str, Any]]:
        items = await query_all(
            self._client,
            f"list {self._noun}s",
            {
                "TableName": self._table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": self._partition},
                    ":prefix": {"S": f"{self._prefix}#"},
                },
                "ConsistentRead": True,
            },
        )
        return [attrs_of(item) for item in items]

    async def _create(self, item_id: str, entity: Any, field: str) -> None:
        result = await conditional(
            f"create a {self._noun}",
            self._client.put_item(
                TableName=self._table,
                Item=self._item(item_id, entity),
                ConditionExpression="attribute_not_exists(PK)",
            ),
        )
        if isinstance(result, Rejected):
            raise ConflictError(f"A {self._noun} with id {item_id!r} already exists.", field=field)

    async def _put(self, item_id: str, entity: Any) -> None:
        await call(
            f"save a {self._noun}",
            self._client.put_item(TableName=self._table, Item=self._item(item_id, entity)),
        )

    async def _delete(self, item_id: str) -> bool:
        response = await call(
            f"delete a {self._noun}",
            self._client.delete_item(TableName=self._table, Key=self._key(item_id), ReturnValues="ALL_OLD"),
        )
        return "Attributes" in response


class DynamoAppRoleRepository(_Catalogue):
    """`AppRoleRepository` on DynamoDB."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        super().__init__(client, table, _ROLES, "ROLE", "role")

    async def get(self, role_id: str) -> AppRole | None:
        """One role."""
        attrs = await self._get(_checked(role_id, "roleId"))
        return None if attrs is None else entity_from(AppRole, attrs)

    async def list(self) -> builtins.list[AppRole]:
        """Every role, by id."""
        return sorted((entity_from(AppRole, attrs) for attrs in await self._list()), key=lambda r: r.role_id)

    async def create(self, role: AppRole) -> AppRole:
        """Add a role; `ConflictError` when its id is taken."""
        await self._create(role.role_id, role, "roleId")
        return role

    async def put_many(self, roles: Sequence[AppRole]) -> None:
        """Create or replace several roles in one transaction (at most 100)."""
        if not roles:
            return
        if len(roles) > _TRANSACTION_ITEMS:
            raise InvalidInputError(f"At most {_TRANSACTION_ITEMS} roles change together.", field="roles")
        await transact(
            "save roles",
            self._client,
            [{"Put": {"TableName": self._table, "Item": self._item(role.role_id, role)}} for role in roles],
        )

    async def delete(self, role_id: str) -> bool:
        """Remove a role; `False` when it was missing."""
        return await self._delete(_checked(role_id, "roleId"))


class DynamoToolRepository(_Catalogue):
    """`ToolRepository` on DynamoDB."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        super().__init__(client, table, _TOOLS, "TOOL", "tool")

    async def get(self, tool_id: str) -> ToolDefinition | None:
        """One catalogue entry."""
        attrs = await self._get(_checked(tool_id, "toolId"))
        return None if attrs is None else entity_from(ToolDefinition, attrs)

    async def list(self) -> builtins.list[ToolDefinition]:
        """Every entry, by id."""
        tools = (entity_from(ToolDefinition, attrs) for attrs in await self._list())
        return sorted(tools, key=lambda tool: tool.tool_id)

    async def create(self, tool: ToolDefinition) -> ToolDefinition:
        """Add an entry; `ConflictError` when its id is taken."""
        await self._create(tool.tool_id, tool, "toolId")
        return tool

    async def put(self, tool: ToolDefinition) -> ToolDefinition:
        """Create or replace an entry."""
        await self._put(tool.tool_id, tool)
        return tool

    async def delete(self, tool_id: str) -> bool:
        """Remove an entry; `False` when it was missing."""
        return await self._delete(_checked(tool_id, "toolId"))

    async def get_preferences(self, user_id: UserId) -> ToolPreferences:
        """The user's choices (empty when they made none)."""
        validate_id(user_id, field="userId")
        response = await call(
            "read tool preferences",
            self._client.get_item(
                TableName=self._table, Key=key(f"PREFS#{user_id}", "TOOLS"), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        if item is None:
            return ToolPreferences()
        return ToolPreferences(enabled=dict(attrs_of(item).get("enabled", {})))

    async def put_preferences(self, user_id: UserId, preferences: ToolPreferences) -> ToolPreferences:
        """Merge `preferences` into the user's choices with one update (each tool is its own map key)."""
        validate_id(user_id, field="userId")
        if not preferences.enabled:
            return await self.get_preferences(user_id)
        names = {f"#t{index}": tool_id for index, tool_id in enumerate(preferences.enabled)}
        values = {f":v{index}": {"BOOL": value} for index, value in enumerate(preferences.enabled.values())}
        assignments = ", ".join(f"enabled.#t{index} = :v{index}" for index in range(len(names)))
        # The map must exist before its keys can be set: create it in the same request when missing.
        await call(
            "create tool preferences",
            self._client.update_item(
                TableName=self._table,
                Key=key(f"PREFS#{user_id}", "TOOLS"),
                UpdateExpression="SET enabled = if_not_exists(enabled, :empty)",
                ExpressionAttributeValues={":empty": {"M": {}}},
            ),
        )
        response = await call(
            "save tool preferences",
            self._client.update_item(
                TableName=self._table,
                Key=key(f"PREFS#{user_id}", "TOOLS"),
                UpdateExpression=f"SET {assignments}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            ),
        )
        return ToolPreferences(enabled=dict(attrs_of(response["Attributes"]).get("enabled", {})))


class DynamoLoginStateStore:
    """`LoginStateStore` on DynamoDB: taking a state is one conditional DeleteItem returning it."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def put(self, state: LoginState) -> None:
        """Store a new sign-in with its expiry (`ttl`, epoch seconds)."""
        item = to_item(model_attrs(state) | {"ttl": int(state.expires_at.timestamp()) + 1}) | key(
            f"STATE#{state.state}", "STATE"
        )
        result = await conditional(
            "start a sign-in",
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(PK)"
            ),
        )
        if isinstance(result, Rejected):
            raise ConflictError("This sign-in state is already in use.", field="state")

    async def take(self, state: str, *, now: datetime) -> LoginState | None:
        """Remove and return the sign-in; `None` if unknown or expired (DynamoDB's TTL lags)."""
        response = await call(
            "finish a sign-in",
            self._client.delete_item(
                TableName=self._table,
                Key=key(f"STATE#{_checked(state, 'state')}", "STATE"),
                ReturnValues="ALL_OLD",
            ),
        )
        stored: dict[str, Any] = dict(response.get("Attributes") or {})
        if not stored:
            return None
        found = entity_from(LoginState, attrs_of(stored))
        return found if found.expires_at > now else None
