"""Session titles: `POST /chat/generate-title`, fired by `FE/session/services/chat/chat-http.service.ts`
when the first stream of a session ends. FE = `frontend/ai.client/src/app` of the client."""

from __future__ import annotations

import uuid

from frontend_kit import STRING, UserFactory, check, obj, run_turn, turn_body

# FE/session/services/chat/chat-http.service.ts: the title response (`title` replaces the sidebar entry)
TITLE = obj({"title": STRING, "session_id": STRING})


class TestTitle:
    def test_the_first_message_names_the_session_in_the_sidebar(self, frontend_user: UserFactory) -> None:
        client = frontend_user()
        session_id = str(uuid.uuid4())
        message = "How long does the battery take to charge?"
        run_turn(client, turn_body(session_id, message))
        response = client.post("/chat/generate-title", json={"session_id": session_id, "input": message})
        assert response.status_code == 200, response.text
        check(response.json(), TITLE)
        assert response.json()["session_id"] == session_id
        sidebar = client.get("/sessions").json()["sessions"]
        assert [item["title"] for item in sidebar] == [response.json()["title"]]
