"""Names and shapes of the DynamoDB tables and the S3 bucket (the key design is in the README)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["INDEXES", "TTL_ATTRIBUTES", "Index", "ResourceNames"]

_TABLES = (
    "sessions",
    "messages",
    "models",
    "assistants",
    "documents",
    "files",
    "costs",
    "users",
    "roles",
    "tools",
    "logins",
    "quotas",
    "usage",
)


@dataclass(frozen=True, slots=True)
class Index:
    """A secondary index: a string partition key, a string (or number) sort key, every attribute projected."""

    name: str
    partition: str
    sort: str
    local: bool = False
    """A local index shares the table's partition key and allows consistent reads."""
    sort_type: Literal["S", "N"] = "S"
    """`N` for a numeric sort key (kept in order by atomic `ADD`s)."""


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """Every table and bucket name, derived from one resource prefix."""

    prefix: str
    sessions: str = field(init=False)
    messages: str = field(init=False)
    models: str = field(init=False)
    assistants: str = field(init=False)
    documents: str = field(init=False)
    files: str = field(init=False)
    costs: str = field(init=False)
    users: str = field(init=False)
    roles: str = field(init=False)
    tools: str = field(init=False)
    logins: str = field(init=False)
    quotas: str = field(init=False)
    usage: str = field(init=False)
    bucket: str = field(init=False)

    def __post_init__(self) -> None:
        for name in _TABLES:
            object.__setattr__(self, name, f"{self.prefix}-{name}")
        object.__setattr__(self, "bucket", f"{self.prefix}-blobs")

    def tables(self) -> dict[str, str]:
        """Logical name -> table name, for provisioning."""
        return {name: getattr(self, name) for name in _TABLES}


SESSIONS_BY_LAST_MESSAGE = Index("by-last-message", "listPk", "sortKey")
ASSISTANTS_BY_OWNER = Index("by-owner", "ownerPk", "createdSk")
ASSISTANTS_PUBLIC = Index("public", "publicPk", "createdSk")
ASSISTANTS_SHARED_WITH = Index("shared-with", "sharePk", "shareSk")
DOCUMENTS_BY_CREATED = Index("by-created", "PK", "createdSk", local=True)
DOCUMENTS_UNFINISHED = Index("unfinished", "unfinishedPk", "unfinishedSk")
FILES_BY_DATE = Index("by-date", "PK", "dateSk", local=True)
FILES_BY_SIZE = Index("by-size", "PK", "sizeSk", local=True)
FILES_BY_TYPE = Index("by-type", "PK", "typeSk", local=True)
COSTS_BY_TIME = Index("by-time", "PK", "timestamp")
USERS_BY_EMAIL = Index("by-email", "PK", "emailKey", local=True)
USERS_BY_NAME = Index("by-name", "PK", "nameKey", local=True)
USERS_BY_LOGIN = Index("by-login", "loginPk", "loginSk")
USERS_BY_STATUS = Index("by-status", "statusPk", "loginSk")
USERS_BY_DOMAIN = Index("by-domain", "domainPk", "loginSk")
OVERRIDES_BY_USER = Index("overrides-by-user", "userPk", "untilSk")
OVERRIDES_BY_END = Index("overrides-by-end", "endPk", "untilSk")
EVENTS_BY_USER = Index("events-by-user", "userPk", "eventSk")
EVENTS_BY_TIER = Index("events-by-tier", "tierPk", "eventSk")
USAGE_BY_SPEND = Index("by-spend", "spendPk", "spent", sort_type="N")

INDEXES: dict[str, tuple[Index, ...]] = {
    "sessions": (SESSIONS_BY_LAST_MESSAGE,),
    "messages": (),
    "models": (),
    "assistants": (ASSISTANTS_BY_OWNER, ASSISTANTS_PUBLIC, ASSISTANTS_SHARED_WITH),
    "documents": (DOCUMENTS_BY_CREATED, DOCUMENTS_UNFINISHED),
    "files": (FILES_BY_DATE, FILES_BY_SIZE, FILES_BY_TYPE),
    "costs": (COSTS_BY_TIME,),
    "users": (USERS_BY_EMAIL, USERS_BY_NAME, USERS_BY_LOGIN, USERS_BY_STATUS, USERS_BY_DOMAIN),
    "roles": (),
    "tools": (),
    "logins": (),
    "quotas": (OVERRIDES_BY_USER, OVERRIDES_BY_END, EVENTS_BY_USER, EVENTS_BY_TIER),
    "usage": (USAGE_BY_SPEND,),
}
"""Secondary indexes per logical table."""

TTL_ATTRIBUTES: dict[str, str] = {"logins": "ttl", "usage": "ttl"}
"""Tables whose items DynamoDB deletes after the epoch second in this attribute."""
