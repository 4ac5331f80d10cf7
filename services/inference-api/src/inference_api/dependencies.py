"""The one accessor of inference-api's state, and the dependencies its routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chat_http.dependencies import AdminUser, CurrentUser, StorageDep
from chat_http.state import state_accessor
from inference_api.config import Settings
from inference_api.state import AppState

__all__ = ["AdminUser", "CurrentUser", "SettingsDep", "StateDep", "StorageDep", "get_state"]


get_state = state_accessor(AppState)
StateDep = Annotated[AppState, Depends(get_state)]


async def _settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(_settings)]
