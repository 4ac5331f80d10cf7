"""Assistants, as `FE/assistants/services/assistant-api.service.ts` calls them and the assistant pages
build the bodies (`FE/assistants/assistants.page.ts`, `FE/assistants/assistant-form/assistant-form.page.ts`).
FE = `frontend/ai.client/src/app` of the client.
"""

from __future__ import annotations

from frontend_kit import (
    BOOLEAN,
    INTEGER,
    STRING,
    UserFactory,
    array,
    assistant_with_document,
    check,
    enum,
    obj,
)

# FE/assistants/models/assistant.model.ts: Assistant. `ownerId` is declared but never read (the
# original strips it too); the edit form requires a non-empty `vectorIndexId`.
ASSISTANT = obj(
    {
        "assistantId": STRING,
        "ownerName": STRING,
        "name": STRING,
        "description": STRING,
        "instructions": STRING,
        "vectorIndexId": {"type": "string", "minLength": 1},
        "visibility": enum("PRIVATE", "PUBLIC", "SHARED"),
        "tags": array(STRING),
        "usageCount": INTEGER,
        "createdAt": STRING,
        "updatedAt": STRING,
        "status": enum("DRAFT", "COMPLETE", "ARCHIVED"),
    },
    {"imageUrl": STRING, "firstInteracted": BOOLEAN, "isSharedWithMe": BOOLEAN},
)
# FE/assistants/models/assistant.model.ts: AssistantsListResponse
ASSISTANTS_LIST = obj({"assistants": array(ASSISTANT)}, {"nextToken": STRING})
LIST_PARAMS = {"include_drafts": "true", "include_archived": "false", "include_public": "false"}
"""What FE/assistants/assistants.page.ts asks for (booleans as text; no limit, no token)."""


def form_value(**changes: object) -> dict[str, object]:
    """The assistant form's whole value: it always carries `vectorIndexId` and `status`."""
    return {
        "name": "Battery helper",
        "description": "Answers questions about the battery",
        "instructions": "Answer from the manual.",
        "vectorIndexId": "idx_assistants",
        "visibility": "PRIVATE",
        "tags": [],
        "status": "DRAFT",
        **changes,
    }


class TestCreating:
    def test_create_new_makes_a_draft_the_edit_form_can_save(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        draft = client.post("/assistants/draft", json={"name": "Untitled Assistant"})
        assert draft.status_code in (200, 201), draft.text
        check(draft.json(), ASSISTANT)
        assert draft.json()["status"] == "DRAFT"
        # the edit form patches itself with the draft and sends its whole value back with COMPLETE
        assistant_id = draft.json()["assistantId"]
        body = form_value(vectorIndexId=draft.json()["vectorIndexId"], status="COMPLETE")
        saved = client.put(f"/assistants/{assistant_id}", json=body)
        assert saved.status_code == 200, saved.text
        check(saved.json(), ASSISTANT)
        assert (saved.json()["name"], saved.json()["status"]) == ("Battery helper", "COMPLETE")

    def test_the_create_form_saves_its_whole_value(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = client.post("/assistants", json=form_value())
        assert created.status_code in (200, 201), created.text
        check(created.json(), ASSISTANT)
        assert created.json()["name"] == "Battery helper"

    def test_the_first_upload_on_the_create_form_makes_a_named_draft(
        self, frontend_user: UserFactory
    ) -> None:
        client = frontend_user()
        draft = client.post("/assistants/draft", json={"name": "My helper"})
        assert draft.status_code in (200, 201)
        assert draft.json()["name"] == "My helper"


class TestListingAndReading:
    def test_the_list_page_shows_own_assistants_and_drafts(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = client.post("/assistants", json=form_value()).json()
        draft = client.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()
        response = client.get("/assistants", params=LIST_PARAMS)
        assert response.status_code == 200
        check(response.json(), ASSISTANTS_LIST)
        assert {item["assistantId"] for item in response.json()["assistants"]} == {
            created["assistantId"],
            draft["assistantId"],
        }

    def test_the_chat_and_edit_pages_read_one(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = client.post("/assistants", json=form_value()).json()
        response = client.get(f"/assistants/{created['assistantId']}")
        assert response.status_code == 200
        check(response.json(), ASSISTANT)

    def test_someone_elses_private_assistant_is_not_found(self, frontend_user: UserFactory) -> None:
        owner, other = frontend_user(), frontend_user()
        created = owner.post("/assistants", json=form_value()).json()
        # FE/session/session.page.ts: 404 shows "Assistant not found"
        assert other.get(f"/assistants/{created['assistantId']}").status_code == 404


class TestChanging:
    def test_the_list_page_toggles_visibility_alone(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = client.post("/assistants", json=form_value()).json()
        for visibility in ("PUBLIC", "PRIVATE"):
            response = client.put(f"/assistants/{created['assistantId']}", json={"visibility": visibility})
            assert response.status_code == 200, response.text
            check(response.json(), ASSISTANT)
            assert response.json()["visibility"] == visibility

    def test_archive_and_delete(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = client.post("/assistants", json=form_value()).json()
        path = f"/assistants/{created['assistantId']}"
        assert client.post(f"{path}/archive", json={}).status_code == 200
        assert client.delete(path).status_code in (200, 204)
        assert client.get(path).status_code == 404


# FE/assistants/assistant-form/components/test-chat.component.ts: what the panel reads of each event
TEST_CHAT_EVENTS = {
    "message_start": obj({"role": STRING}),
    "content_block_start": obj({}, {"type": STRING}),
    "content_block_delta": obj({"type": enum("text"), "text": STRING}),
    "done": {"type": "object"},
}


class TestTestChat:
    def test_the_editors_test_panel_streams_an_answer(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        assistant_id, _ = assistant_with_document(client)
        # FE/assistants/services/test-chat.service.ts: `{message}` (session_id is never passed, so omitted)
        response, events = client.stream(
            f"/assistants/{assistant_id}/test-chat", {"message": "How long does the battery take to charge?"}
        )
        # fetch-event-source's default opening check: a 2xx with content-type text/event-stream
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events:
            if event.event in TEST_CHAT_EVENTS:
                check(event.data, TEST_CHAT_EVENTS[event.event])
        names = [event.event for event in events]
        assert names[0] == "debug"  # the original's rag_debug event, ignored by the panel
        assert "message_stop" in names
        assert names[-1] == "done"
        answer = "".join(event.data["text"] for event in events if event.event == "content_block_delta")
        assert "90 minutes" in answer

    def test_it_needs_a_complete_document(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        draft = client.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()
        response, events = client.stream(f"/assistants/{draft['assistantId']}/test-chat", {"message": "Hi"})
        assert response.status_code == 400
        assert events == []
