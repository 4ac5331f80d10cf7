"""Signed-in people for the share picker, in DynamoDB: prefix search through two local indexes."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chat_core.errors import InvalidInputError
from chat_core.identity import User, UserProfile
from chat_core.ids import validate_id
from chat_core.pagination import validate_limit
from chat_storage.aws._errors import Rejected, call, conditional
from chat_storage.aws._items import attrs_of, entity_from, key, model_attrs, to_item
from chat_storage.aws._tables import USERS_BY_EMAIL, USERS_BY_NAME, Index

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoUserRepository"]

_DIRECTORY = "USERS"
"""One partition holds every profile so that local indexes can sort them by email and by name."""
_MAX_PREFIX = 200
_MAX_KEY = 512
"""Index keys are cut here: DynamoDB sort keys stop at 1 KB."""
_MAX_RESULTS = 100


def _profile_from(item: Mapping[str, Any]) -> UserProfile:
    return entity_from(UserProfile, attrs_of(item))


class DynamoUserRepository:
    """`UserRepository` on DynamoDB, all profiles in partition `USERS` as `USER#{uid}`.

    Local indexes sort them by lowercased email (`emailKey`) and name (`nameKey`, absent when empty).
    """

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def remember(self, user: User) -> bool:
        """Record a profile on first sight; `True` when it was new. A known user costs one read."""
        validate_id(user.user_id, field="userId")
        known = await call(
            "read a user profile",
            self._client.get_item(TableName=self._table, Key=key(_DIRECTORY, f"USER#{user.user_id}")),
        )
        if "Item" in known:
            return False
        profile = UserProfile(user_id=user.user_id, email=user.email, name=user.name)
        attrs = model_attrs(profile) | {"PK": _DIRECTORY, "SK": f"USER#{user.user_id}"}
        # Index keys cannot be empty: someone without an email (or name) is just not in that index.
        for attribute, text in (("emailKey", user.email), ("nameKey", user.name)):
            if text.strip():
                attrs[attribute] = text.strip().casefold()[:_MAX_KEY]
        result = await conditional(
            "record a user profile",
            self._client.put_item(
                TableName=self._table, Item=to_item(attrs), ConditionExpression="attribute_not_exists(PK)"
            ),
        )
        return not isinstance(result, Rejected)

    async def _search(self, index: Index, prefix: str, limit: int) -> builtins.list[UserProfile]:
        condition = f"PK = :pk AND begins_with({index.sort}, :prefix)"
        values: dict[str, Any] = {":pk": {"S": _DIRECTORY}, ":prefix": {"S": prefix}}
        response = await call(
            "search user profiles",
            self._client.query(
                TableName=self._table,
                IndexName=index.name,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                Limit=limit,
            ),
        )
        return [_profile_from(item) for item in response.get("Items", [])]

    async def search(self, prefix: str, *, limit: int = 10) -> builtins.list[UserProfile]:
        """Profiles whose email or name starts with `prefix` (case-insensitive), by email."""
        validate_limit(limit, maximum=_MAX_RESULTS)
        needle = prefix.strip().lower()
        if len(needle) > _MAX_PREFIX:
            raise InvalidInputError(
                f"The search prefix is longer than {_MAX_PREFIX} characters.", field="prefix"
            )
        by_email = await self._search(USERS_BY_EMAIL, needle, limit)
        by_name = await self._search(USERS_BY_NAME, needle, limit)
        unique = {profile.user_id: profile for profile in [*by_email, *by_name]}
        return sorted(unique.values(), key=lambda profile: (profile.email, profile.user_id))[:limit]
