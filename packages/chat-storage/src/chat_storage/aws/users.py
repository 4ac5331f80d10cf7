"""Signed-in people in DynamoDB: prefix search for the share picker, listings for administrators.

Every profile is `USERS` / `USER#{uid}`, so local indexes sort them by lowercased email (`emailKey`)
and name (`nameKey`, absent when empty). Global indexes list them by most recent sign-in, overall
(`loginPk` = `USERS`), per status (`statusPk`) and per email domain (`domainPk`), all sorted by
`loginSk` = `{lastLoginAt}#{uid}`. Each domain also has a marker item `DOMAINS` / `DOMAIN#{domain}`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chat_core.clock import utc_now
from chat_core.errors import InvalidInputError
from chat_core.identity import User, UserProfile, UserStatus
from chat_core.ids import UserId, validate_id
from chat_core.pagination import Page, validate_limit
from chat_storage.aws._errors import Rejected, call, conditional
from chat_storage.aws._items import (
    attrs_of,
    entity_from,
    iso,
    key,
    model_attrs,
    query_page,
    start_key,
    to_item,
)
from chat_storage.aws._tables import (
    USERS_BY_DOMAIN,
    USERS_BY_EMAIL,
    USERS_BY_LOGIN,
    USERS_BY_NAME,
    USERS_BY_STATUS,
    Index,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoUserRepository"]

_DIRECTORY = "USERS"
"""One partition holds every profile so that local indexes can sort them by email and by name."""
_DOMAINS = "DOMAINS"
_MAX_PREFIX = 200
_MAX_KEY = 512
"""Index keys are cut here: DynamoDB sort keys stop at 1 KB."""
_MAX_RESULTS = 100


def _profile_from(item: Mapping[str, Any]) -> UserProfile:
    return entity_from(UserProfile, attrs_of(item))


def _attrs(profile: UserProfile) -> dict[str, Any]:
    attrs = model_attrs(profile) | {"PK": _DIRECTORY, "SK": f"USER#{profile.user_id}"}
    # Index keys cannot be empty: someone without an email (or name) is just not in that index.
    for attribute, text in (("emailKey", profile.email), ("nameKey", profile.name)):
        if text.strip():
            attrs[attribute] = text.strip().casefold()[:_MAX_KEY]
    login = iso(profile.last_login_at or profile.first_seen_at)
    attrs |= {
        "loginPk": _DIRECTORY,
        "loginSk": f"{login}#{profile.user_id}",
        "statusPk": f"STATUS#{profile.status.value}",
    }
    if profile.email_domain:
        attrs["domainPk"] = f"DOMAIN#{profile.email_domain[:_MAX_KEY]}"
    return attrs


class DynamoUserRepository:
    """`UserRepository` on DynamoDB."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    async def _read(self, user_id: str) -> UserProfile | None:
        response = await call(
            "read a user profile",
            self._client.get_item(
                TableName=self._table, Key=key(_DIRECTORY, f"USER#{user_id}"), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        return None if item is None else _profile_from(item)

    async def _mark_domain(self, domain: str) -> None:
        if domain:
            await call(
                "record an email domain",
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item({"PK": _DOMAINS, "SK": f"DOMAIN#{domain[:_MAX_KEY]}", "domain": domain}),
                ),
            )

    async def remember(self, user: User) -> bool:
        """Record a profile on first sight; `True` when it was new. A known user costs one read."""
        validate_id(user.user_id, field="userId")
        if await self._read(user.user_id) is not None:
            return False
        now = utc_now()
        profile = UserProfile.of(user, at=now)
        result = await conditional(
            "record a user profile",
            self._client.put_item(
                TableName=self._table,
                Item=to_item(_attrs(profile)),
                ConditionExpression="attribute_not_exists(PK)",
            ),
        )
        if isinstance(result, Rejected):
            return False
        await self._mark_domain(profile.email_domain)
        return True

    async def record_login(self, user: User, *, at: datetime) -> UserProfile:
        """Create or refresh the profile at a sign-in (keeps `first_seen_at` and `status`)."""
        validate_id(user.user_id, field="userId")
        fresh = UserProfile.of(user, at=at)
        for _ in range(5):
            current = await self._read(user.user_id)
            profile = (
                fresh
                if current is None
                else fresh.model_copy(
                    update={"first_seen_at": current.first_seen_at, "status": current.status}
                )
            )
            condition = (
                {"ConditionExpression": "attribute_not_exists(PK)"}
                if current is None
                else {
                    "ConditionExpression": "firstSeenAt = :seen",
                    "ExpressionAttributeValues": {":seen": {"S": model_attrs(current)["firstSeenAt"]}},
                }
            )
            result = await conditional(
                "record a sign-in",
                self._client.put_item(TableName=self._table, Item=to_item(_attrs(profile)), **condition),
            )
            if not isinstance(result, Rejected):
                await self._mark_domain(profile.email_domain)
                return profile
        raise InvalidInputError("The profile kept changing; try again.", field="userId")

    async def get(self, user_id: UserId) -> UserProfile | None:
        """One profile."""
        validate_id(user_id, field="userId")
        return await self._read(user_id)

    async def get_by_email(self, email: str) -> UserProfile | None:
        """The profile with this email (case-insensitive): one query on the email index."""
        needle = email.strip().casefold()
        if not needle or len(needle) > _MAX_PREFIX:
            raise InvalidInputError(f"The email must be 1 to {_MAX_PREFIX} characters.", field="email")
        response = await call(
            "find a user by email",
            self._client.query(
                TableName=self._table,
                IndexName=USERS_BY_EMAIL.name,
                KeyConditionExpression="PK = :pk AND emailKey = :email",
                ExpressionAttributeValues={":pk": {"S": _DIRECTORY}, ":email": {"S": needle}},
                Limit=1,
            ),
        )
        items = response.get("Items", [])
        return _profile_from(items[0]) if items else None

    async def list(
        self,
        *,
        status: UserStatus | None = None,
        domain: str | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> Page[UserProfile]:
        """Profiles, most recent sign-in first, optionally of one status or email domain."""
        validate_limit(limit, maximum=_MAX_RESULTS)
        index: Index
        partition: str
        filters: dict[str, Any] = {}
        if domain is not None:
            index, partition = USERS_BY_DOMAIN, f"DOMAIN#{domain.strip().lower()[:_MAX_KEY]}"
            if status is not None:
                filters = {
                    "FilterExpression": "#status = :status",
                    "ExpressionAttributeNames": {"#status": "status"},
                }
        elif status is not None:
            index, partition = USERS_BY_STATUS, f"STATUS#{status.value}"
        else:
            index, partition = USERS_BY_LOGIN, _DIRECTORY
        values: dict[str, Any] = {":pk": {"S": partition}}
        if filters and status is not None:
            values[":status"] = {"S": status.value}
        listing = f"users|{index.name}|{partition}|{status}"
        key_names = ["PK", "SK", index.partition, index.sort]
        items, next_cursor = await query_page(
            self._client,
            "list users",
            {
                "TableName": self._table,
                "IndexName": index.name,
                "KeyConditionExpression": f"{index.partition} = :pk",
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                **filters,
            },
            limit=limit,
            key_names=key_names,
            listing=listing,
            cursor_start=start_key(
                cursor,
                listing=listing,
                fixed={"PK": _DIRECTORY, index.partition: partition},
                prefixed={"SK": "USER#", index.sort: ""},
            ),
        )
        return Page[UserProfile](items=[_profile_from(item) for item in items], next_cursor=next_cursor)

    async def domains(self, *, limit: int = 50) -> builtins.list[str]:
        """Email domains of known users, alphabetically."""
        validate_limit(limit, maximum=_MAX_RESULTS)
        response = await call(
            "list email domains",
            self._client.query(
                TableName=self._table,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": _DOMAINS}},
                Limit=limit,
            ),
        )
        return [str(attrs_of(item)["domain"]) for item in response.get("Items", [])]

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
