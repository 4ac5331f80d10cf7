"""HTTP shapes of `/tools` and `/admin/tools`, with the original's field names.

The catalogue entry itself is `chat_core.tools.ToolDefinition`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from app_api.schemas import ApiModel
from chat_core.roles import ROLE_ID_PATTERN
from chat_core.tools import TOOL_ID_PATTERN, ToolCategory, ToolDefinition, ToolProtocol, ToolStatus

__all__ = [
    "AdminToolPage",
    "AdminToolRead",
    "CatalogPage",
    "CatalogToolRead",
    "LegacyCategory",
    "OrphanedTool",
    "SyncRead",
    "SyncedTool",
    "ToolPermissionsRead",
    "ToolPreferencesRead",
    "ToolPreferencesUpdate",
    "ToolRoleRead",
    "ToolRolesRead",
    "ToolRolesUpdate",
    "UserToolRead",
    "UserToolsRead",
]

_ToolId = Annotated[str, StringConstraints(pattern=TOOL_ID_PATTERN)]
_RoleId = Annotated[str, StringConstraints(pattern=ROLE_ID_PATTERN)]


class UserToolRead(ApiModel):
    """`UserToolAccess`: a tool the caller may use, and whether it is on in their chat settings."""

    tool_id: str
    display_name: str
    description: str
    category: ToolCategory
    icon: str | None
    protocol: ToolProtocol
    status: ToolStatus
    requires_oauth_provider: str | None
    granted_by: list[str]
    """`public` and/or the AppRoles that grant it."""
    enabled_by_default: bool
    user_enabled: bool | None
    """The caller's own choice (`null`: none made, the default applies)."""
    is_enabled: bool


class UserToolsRead(ApiModel):
    """`UserToolsResponse` (`GET /tools/`)."""

    tools: list[UserToolRead]
    categories: list[str]
    app_roles_applied: list[str]


class ToolPreferencesUpdate(ApiModel):
    """`ToolPreferencesRequest`: on/off per tool id; tools not named keep their current state."""

    preferences: dict[_ToolId, bool] = Field(max_length=200)


class ToolPreferencesRead(ApiModel):
    """The saved choices (all of the caller's, merged)."""

    message: str
    preferences: dict[str, bool]


LegacyCategory = Literal["search", "browser", "data", "utilities", "code", "gateway"]
"""The six categories of the original's legacy catalogue, which `GET /tools/catalog` still speaks."""


class CatalogToolRead(ApiModel):
    """`LegacyToolResponse` (`GET /tools/catalog`): what role forms offer to grant."""

    tool_id: str
    name: str
    description: str
    category: LegacyCategory
    is_gateway_tool: bool
    icon: str | None


class CatalogPage(ApiModel):
    """`LegacyToolListResponse`."""

    tools: list[CatalogToolRead]
    total: int


class ToolPermissionsRead(ApiModel):
    """`UserToolPermissionsResponse` (`GET /tools/my-permissions`)."""

    user_id: str
    allowed_tools: list[str]
    has_wildcard: bool
    app_roles: list[str]


class AdminToolRead(ApiModel):
    """`AdminToolResponse`: a catalogue entry with the AppRoles that grant it directly."""

    tool_id: str
    display_name: str
    description: str
    category: ToolCategory
    icon: str | None
    protocol: ToolProtocol
    status: ToolStatus
    requires_oauth_provider: str | None
    is_public: bool
    allowed_app_roles: list[str]
    enabled_by_default: bool
    created_at: str
    updated_at: str
    created_by: str | None
    updated_by: str | None
    mcp_config: dict[str, Any] | None = None
    a2a_config: dict[str, Any] | None = None

    @classmethod
    def of(cls, tool: ToolDefinition, allowed_app_roles: list[str]) -> AdminToolRead:
        """The entry as the admin pages read it."""
        fields = tool.model_dump(exclude={"created_at", "updated_at"})
        return cls(
            **fields,
            allowed_app_roles=allowed_app_roles,
            created_at=tool.created_at.isoformat(),
            updated_at=tool.updated_at.isoformat(),
        )


class AdminToolPage(ApiModel):
    """`AdminToolListResponse`."""

    tools: list[AdminToolRead]
    total: int


class ToolRoleRead(ApiModel):
    """`ToolRoleAssignment`: an AppRole granting the tool, itself (`direct`) or through a parent."""

    role_id: str
    display_name: str
    grant_type: Literal["direct", "inherited"]
    inherited_from: str | None
    enabled: bool


class ToolRolesRead(ApiModel):
    """`ToolRolesResponse`."""

    tool_id: str
    roles: list[ToolRoleRead]


class ToolRolesUpdate(ApiModel):
    """`SetToolRolesRequest` / `AddRemoveRolesRequest`."""

    app_role_ids: list[_RoleId] = Field(max_length=100)


class SyncedTool(BaseModel):
    """A registered tool the catalogue lacks (snake_case inside, as the original and its client)."""

    tool_id: str
    display_name: str
    description: str
    category: ToolCategory
    protocol: ToolProtocol
    action: Literal["create"] = "create"


class OrphanedTool(BaseModel):
    """A catalogue entry of a tool the platform no longer runs."""

    tool_id: str
    action: Literal["mark_deprecated", "none"]
    """`none`: already deprecated or disabled."""


class SyncRead(ApiModel):
    """`SyncResult` of `POST /admin/tools/sync`."""

    discovered: list[SyncedTool]
    orphaned: list[OrphanedTool]
    unchanged: list[str]
    dry_run: bool
