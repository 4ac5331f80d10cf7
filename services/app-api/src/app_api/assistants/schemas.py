"""HTTP shapes of the assistants routes (the original's names; `ownerId` is never returned)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app_api.assistants.service import AssistantView
from app_api.schemas import ApiModel
from chat_core.assistants import AssistantCreate, AssistantStatus, AssistantUpdate, Visibility
from chat_core.fields import NOT_NULL, omittable
from chat_core.ids import EMAIL_PATTERN
from chat_core.limits import EMAIL_MAX_CHARS, DisplayName

__all__ = [
    "AssistantCreateDraft",
    "AssistantCreateRequest",
    "AssistantPage",
    "AssistantRead",
    "AssistantShares",
    "AssistantUpdateRequest",
    "ShareRequest",
    "TestChatRequest",
]

_INDEX_ID_DOC = (
    "Read-only: accepted (the frontend's form always sends it back) and ignored. Each assistant's "
    "passages live in the knowledge base under its own id."
)


class AssistantCreateDraft(ApiModel):
    """`CreateAssistantDraftRequest`: a name is optional."""

    name: DisplayName | None = None


class AssistantCreateRequest(AssistantCreate):
    """`CreateAssistantRequest`: the assistant form's whole value, which always carries two extra fields."""

    vector_index_id: Annotated[str | None, NOT_NULL] = omittable(max_length=256, description=_INDEX_ID_DOC)
    status: Annotated[AssistantStatus | None, NOT_NULL] = omittable(
        description="Accepted and ignored: this route always creates a COMPLETE assistant (as the original "
        "did), so an assistant made from the form can be shared at once. Drafts come from `POST /draft`."
    )

    def to_create(self) -> AssistantCreate:
        """The domain's creation request, without the accepted-and-ignored fields."""
        return AssistantCreate.model_validate(self.model_dump(exclude={"vector_index_id", "status"}))


class AssistantUpdateRequest(AssistantUpdate):
    """`UpdateAssistantRequest`: a partial update; `status` is honoured (`COMPLETE` publishes a draft)."""

    vector_index_id: Annotated[str | None, NOT_NULL] = omittable(max_length=256, description=_INDEX_ID_DOC)

    def to_update(self) -> AssistantUpdate:
        """The domain's partial update: only the fields sent, without the read-only one."""
        return AssistantUpdate.model_validate(
            self.model_dump(exclude_unset=True, exclude={"vector_index_id"})
        )


class AssistantRead(ApiModel):
    """`AssistantResponse`."""

    assistant_id: str
    owner_name: str
    name: str
    description: str
    instructions: str
    vector_index_id: str
    """Where the assistant's passages live in the knowledge base (its own id unless set otherwise)."""
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
            vector_index_id=assistant.vector_index_id or assistant.assistant_id,
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

    emails: list[Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=EMAIL_MAX_CHARS)]] = (
        Field(min_length=1, max_length=100)
    )


class AssistantShares(ApiModel):
    """`AssistantSharesResponse`."""

    assistant_id: str
    shared_with: list[str]


class TestChatRequest(ApiModel):
    """`AssistantTestChatRequest`: the editor's test message.

    `session_id` is accepted and changes nothing: every test chat starts afresh and nothing is kept.
    """

    __test__ = False  # not a pytest test class, despite its name

    message: str = Field(min_length=1, max_length=1_000_000, pattern=r"\S")
    """Held to the shared message limit (`CHAT_MAX_MESSAGE_CHARS`) by the service."""
    session_id: str | None = Field(default=None, alias="session_id", max_length=256)
