"""HTTP shapes of the assistants routes (the original's names; `ownerId` is never returned)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app_api.assistants.service import AssistantView
from app_api.schemas import ApiModel
from chat_core.assistants import AssistantStatus, Visibility

__all__ = [
    "AssistantCreateDraft",
    "AssistantPage",
    "AssistantRead",
    "AssistantShares",
    "ShareRequest",
]


class AssistantCreateDraft(ApiModel):
    """`CreateAssistantDraftRequest`: a name is optional."""

    name: str | None = Field(default=None, min_length=1, max_length=200)


class AssistantRead(ApiModel):
    """`AssistantResponse`."""

    assistant_id: str
    owner_name: str
    name: str
    description: str
    instructions: str
    vector_index_id: str | None
    visibility: Visibility
    tags: list[str]
    usage_count: int
    created_at: datetime
    updated_at: datetime
    status: AssistantStatus
    image_url: str | None
    first_interacted: bool | None = None
    is_shared_with_me: bool | None = None

    @classmethod
    def of(cls, view: AssistantView) -> AssistantRead:
        """The caller's view of an assistant."""
        assistant = view.assistant
        return cls(
            assistant_id=assistant.assistant_id,
            owner_name=assistant.owner_name,
            name=assistant.name,
            description=assistant.description,
            instructions=assistant.instructions,
            vector_index_id=assistant.vector_index_id,
            visibility=assistant.visibility,
            tags=assistant.tags,
            usage_count=assistant.usage_count,
            created_at=assistant.created_at,
            updated_at=assistant.updated_at,
            status=assistant.status,
            image_url=assistant.image_url,
            first_interacted=view.first_interacted,
            is_shared_with_me=view.shared_with_me,
        )


class AssistantPage(ApiModel):
    """`AssistantsListResponse`."""

    assistants: list[AssistantRead]
    next_token: str | None = None


class ShareRequest(ApiModel):
    """`ShareAssistantRequest` / `UnshareAssistantRequest`."""

    emails: list[str] = Field(min_length=1, max_length=100)


class AssistantShares(ApiModel):
    """`AssistantSharesResponse`."""

    assistant_id: str
    shared_with: list[str]
