"""HTTP shapes of `/admin/roles` (the role itself is `chat_core.roles.AppRole`, the original's shape)."""

from __future__ import annotations

from app_api.schemas import ApiModel
from chat_core.roles import AppRole

__all__ = ["AppRolePage"]


class AppRolePage(ApiModel):
    """`AppRoleListResponse`."""

    roles: list[AppRole]
    total: int
