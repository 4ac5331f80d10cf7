"""Sessions, as `FE/session/services/session/session.service.ts` calls them.

FE = `frontend/ai.client/src/app` of the client. Sessions are created as the client creates them: a
session id made by the client (uuid v4), then `PUT .../metadata` (or a chat turn, see test_invocations).
"""

from __future__ import annotations

import uuid

from frontend_kit import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    FrontendClient,
    UserFactory,
    array,
    check,
    enum,
    nullable,
    obj,
)

# FE/session/services/models/session-metadata.model.ts: SessionPreferences
SESSION_PREFERENCES = obj(
    {},
    {
        "lastModel": STRING,
        "lastTemperature": NUMBER,
        "enabledTools": array(STRING),
        "selectedPromptId": STRING,
        "customPromptText": STRING,
        "assistantId": STRING,
    },
)
# FE/session/services/models/session-metadata.model.ts: SessionMetadata. `userId` is declared but never
# read (the original's SessionMetadataResponse leaves it out too). `lastMessageAt` is read through
# `formatDate`, which shows nothing for a falsy value: null before the first message is fine.
SESSION_METADATA = obj(
    {
        "sessionId": STRING,
        "title": STRING,
        "status": enum("active", "archived", "deleted"),
        "createdAt": STRING,
        "lastMessageAt": nullable(STRING),
        "messageCount": INTEGER,
    },
    {"starred": BOOLEAN, "tags": array(STRING), "preferences": SESSION_PREFERENCES},
)
# FE/session/services/session/session.service.ts: SessionsListResponse (`hasMoreSessions` is
# `nextToken !== null` in FE/manage-sessions/manage-sessions.page.ts: the key must be there)
SESSIONS_LIST = obj({"sessions": array(SESSION_METADATA), "nextToken": nullable(STRING)})
# FE/session/services/session/session.service.ts: BulkDeleteSessionResult, BulkDeleteSessionsResponse
BULK_DELETE_RESULT = obj({"sessionId": STRING, "success": BOOLEAN}, {"error": nullable(STRING)})
BULK_DELETE = obj({"deletedCount": INTEGER, "failedCount": INTEGER, "results": array(BULK_DELETE_RESULT)})


def _new_session(client: FrontendClient, title: str = "Battery questions") -> str:
    session_id = str(uuid.uuid4())
    response = client.put(f"/sessions/{session_id}/metadata", json={"title": title})
    assert response.status_code == 200, response.text
    return session_id


class TestSessionList:
    def test_the_sidebar_list_without_parameters(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        created = _new_session(client)
        response = client.get("/sessions")
        assert response.status_code == 200
        check(response.json(), SESSIONS_LIST)
        assert [item["sessionId"] for item in response.json()["sessions"]] == [created]

    def test_the_manage_sessions_page_pages_by_fifty_with_next_token(
        self, frontend_user: UserFactory
    ) -> None:
        client = frontend_user()
        created = {_new_session(client, f"Session {n}") for n in range(3)}
        seen: list[str] = []
        params: dict[str, str] = {"limit": "2"}
        while True:
            page = client.get("/sessions", params=params)
            assert page.status_code == 200
            check(page.json(), SESSIONS_LIST)
            seen += [item["sessionId"] for item in page.json()["sessions"]]
            if page.json()["nextToken"] is None:
                break
            params = {"limit": "2", "next_token": page.json()["nextToken"]}
        assert sorted(seen) == sorted(created)
        assert client.get("/sessions", params={"limit": "50"}).json()["nextToken"] is None


class TestSessionMetadata:
    def test_opening_a_session_reads_its_metadata(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = _new_session(client, "Charging")
        response = client.get(f"/sessions/{session_id}/metadata")
        assert response.status_code == 200
        check(response.json(), SESSION_METADATA)
        assert response.json()["title"] == "Charging"

    def test_partial_updates_merge_into_the_session(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = _new_session(client)
        # UpdateSessionMetadataRequest bodies, one field group at a time
        for body in (
            {"starred": True},
            {"tags": ["work"]},
            {"lastModel": "offline-extractive", "lastTemperature": 0.5, "enabledTools": []},
            {"title": "Renamed"},
        ):
            response = client.put(f"/sessions/{session_id}/metadata", json=body)
            assert response.status_code == 200, response.text
            check(response.json(), SESSION_METADATA)
        final = response.json()
        assert (final["title"], final["starred"], final["tags"]) == ("Renamed", True, ["work"])
        assert final["preferences"]["lastModel"] == "offline-extractive"

    def test_a_session_of_another_user_is_not_found(self, frontend_user: UserFactory) -> None:
        owner, other = frontend_user(), frontend_user()
        session_id = _new_session(owner)
        assert other.get(f"/sessions/{session_id}/metadata").status_code == 404


class TestDeletion:
    def test_the_sidebar_deletes_one_session(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = _new_session(client)
        assert client.delete(f"/sessions/{session_id}").status_code in (200, 204)
        assert client.get("/sessions").json()["sessions"] == []

    def test_the_manage_sessions_page_bulk_deletes(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        kept, gone = _new_session(client), _new_session(client)
        missing = str(uuid.uuid4())
        response = client.post("/sessions/bulk-delete", json={"sessionIds": [gone, missing]})
        assert response.status_code == 200
        check(response.json(), BULK_DELETE)
        outcome = {item["sessionId"]: item["success"] for item in response.json()["results"]}
        assert outcome == {gone: True, missing: False}
        assert [item["sessionId"] for item in client.get("/sessions").json()["sessions"]] == [kept]
