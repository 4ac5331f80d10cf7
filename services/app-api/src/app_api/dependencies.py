"""The one accessor of app-api's state, and the dependencies every domain uses.

Dependencies that only one domain needs live next to its router.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app_api.config import Settings
from app_api.state import AppState
from chat_http.dependencies import (
    AdminUser,
    CurrentPermissions,
    CurrentUser,
    KnowledgeDep,
    StorageDep,
    SystemAdminUser,
)
from chat_http.state import state_accessor

__all__ = [
    "AdminUser",
    "CurrentPermissions",
    "CurrentUser",
    "KnowledgeDep",
    "SettingsDep",
    "StateDep",
    "StorageDep",
    "SystemAdminUser",
    "get_state",
]


get_state = state_accessor(AppState)
StateDep = Annotated[AppState, Depends(get_state)]


async def _settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]
