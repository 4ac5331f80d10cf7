import pytest

from chat_core.assistants import (
    Assistant,
    AssistantAccess,
    AssistantShare,
    AssistantStatus,
    AssistantUpdate,
    Visibility,
    assistant_access,
    require_owner,
    require_use,
)
from chat_core.errors import NotFoundError, PermissionDeniedError
from chat_core.identity import User
from chat_core.ids import AssistantId, UserId

OWNER = User(user_id=UserId("owner"), email="owner@example.com")
BOB = User(user_id=UserId("bob"), email="bob@example.com")


def make_assistant(
    visibility: Visibility = Visibility.PRIVATE, status: AssistantStatus = AssistantStatus.COMPLETE
) -> Assistant:
    return Assistant(
        assistant_id=AssistantId("ast-000000000001"),
        owner_id=OWNER.user_id,
        name="Helper",
        visibility=visibility,
        status=status,
    )


def share_for(email: str, assistant_id: str = "ast-000000000001") -> AssistantShare:
    return AssistantShare(assistant_id=AssistantId(assistant_id), email=email)


class TestAssistantAccess:
    @pytest.mark.parametrize("visibility", list(Visibility))
    def test_owner_always_has_access(self, visibility: Visibility) -> None:
        assert assistant_access(make_assistant(visibility), OWNER, None) is AssistantAccess.OWNER

    def test_private_is_hidden_from_others_even_with_a_share(self) -> None:
        assert (
            assistant_access(make_assistant(Visibility.PRIVATE), BOB, share_for(BOB.email))
            is AssistantAccess.NONE
        )

    def test_public_is_open_to_everyone(self) -> None:
        assert assistant_access(make_assistant(Visibility.PUBLIC), BOB, None) is AssistantAccess.PUBLIC

    def test_shared_with_my_email(self) -> None:
        assert (
            assistant_access(make_assistant(Visibility.SHARED), BOB, share_for(BOB.email))
            is AssistantAccess.SHARED
        )

    def test_shared_without_my_share(self) -> None:
        assert assistant_access(make_assistant(Visibility.SHARED), BOB, None) is AssistantAccess.NONE

    def test_foreign_share_does_not_count(self) -> None:
        assert (
            assistant_access(make_assistant(Visibility.SHARED), BOB, share_for("carol@example.com"))
            is AssistantAccess.NONE
        )

    def test_share_of_another_assistant_does_not_count(self) -> None:
        share = share_for(BOB.email, assistant_id="ast-ffffffffffff")
        assert assistant_access(make_assistant(Visibility.SHARED), BOB, share) is AssistantAccess.NONE

    def test_drafts_are_owner_only(self) -> None:
        draft = make_assistant(Visibility.PUBLIC, AssistantStatus.DRAFT)
        assert assistant_access(draft, BOB, None) is AssistantAccess.NONE


class TestRequire:
    def test_require_use_hides_existence(self) -> None:
        with pytest.raises(NotFoundError) as caught:
            require_use("ast-000000000001", make_assistant(Visibility.PRIVATE), BOB, None)
        assert "ast-000000000001" in caught.value.message

    def test_require_use_missing(self) -> None:
        with pytest.raises(NotFoundError):
            require_use("ast-x", None, BOB, None)

    def test_require_use_allows_public(self) -> None:
        assistant = make_assistant(Visibility.PUBLIC)
        assert require_use(assistant.assistant_id, assistant, BOB, None) is assistant

    def test_require_owner_forbids_sharee(self) -> None:
        assistant = make_assistant(Visibility.SHARED)
        with pytest.raises(PermissionDeniedError):
            require_owner(assistant.assistant_id, assistant, BOB, share_for(BOB.email))

    def test_require_owner_hides_private_from_others(self) -> None:
        assistant = make_assistant(Visibility.PRIVATE)
        with pytest.raises(NotFoundError):
            require_owner(assistant.assistant_id, assistant, BOB)

    def test_require_owner_missing(self) -> None:
        with pytest.raises(NotFoundError):
            require_owner("ast-x", None, OWNER)

    def test_require_owner_allows_owner(self) -> None:
        assistant = make_assistant()
        assert require_owner(assistant.assistant_id, assistant, OWNER) is assistant


def test_updated_bumps_version_and_keeps_identity() -> None:
    assistant = make_assistant()
    changed = assistant.updated(AssistantUpdate.model_validate({"name": "Renamed", "visibility": "PUBLIC"}))
    assert (changed.name, changed.visibility, changed.version) == ("Renamed", Visibility.PUBLIC, 2)
    assert changed.assistant_id == assistant.assistant_id
    assert changed.owner_id == assistant.owner_id


def test_json_field_names() -> None:
    data = make_assistant().to_json_dict()
    assert {"assistantId", "ownerId", "ownerName", "vectorIndexId", "usageCount", "imageUrl"} <= set(data)
