"""`POST /chat/generate-title`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app_api.chat import service
from app_api.chat.schemas import TitleRead, TitleRequest
from app_api.chat.titles import TitleModel
from app_api.dependencies import CurrentUser, SettingsDep, StateDep, StorageDep

__all__ = ["router"]


async def _title_model(state: StateDep) -> TitleModel | None:
    return state.title_model


TitleModelDep = Annotated[TitleModel | None, Depends(_title_model)]

router = APIRouter(prefix="/chat", tags=["chat"])


@router.post("/generate-title", response_model=TitleRead)
async def generate_title(
    body: TitleRequest, user: CurrentUser, storage: StorageDep, model: TitleModelDep, settings: SettingsDep
) -> TitleRead:
    """Name a session from its first message; a model failure falls back to the first words."""
    title = await service.generate_title(
        storage.sessions, model, user, body.session_id, body.input, time_limit=settings.title_timeout
    )
    return TitleRead(title=title, session_id=body.session_id)
