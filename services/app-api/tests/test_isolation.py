"""A second user reaching for the first user's ids gets 404 and learns nothing; the first user's data
is untouched. (Assistants, shares and documents: `test_assistants.py` and `test_documents.py`;
admin routes: `test_models.py`.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def alice_with_data(api: Api) -> tuple[Any, str]:
    """Alice with a titled session holding a ready file; returns (client, upload id)."""
    alice = api("alice")
    alice.put("/sessions/s-1/metadata", json={"title": "Private plans", "lastModel": "m-secret"})
    grant = alice.post(
        "/files/presign",
        json={"sessionId": "s-1", "filename": "secret.txt", "mimeType": "text/plain", "sizeBytes": 6},
    ).json()
    httpx.put(grant["presignedUrl"], content=b"secret", headers={"Content-Type": "text/plain"})
    assert alice.post(f"/files/{grant['uploadId']}/complete").status_code == 200
    upload_id: str = grant["uploadId"]
    return alice, upload_id


class TestSecondUser:
    def test_every_session_and_file_route_is_404(self, api: Api, check_error: CheckError) -> None:
        alice, upload_id = alice_with_data(api)
        bob = api("bob")
        before = alice.get("/sessions/s-1/metadata").json()
        for method, path, body in [
            ("GET", "/sessions/s-1/metadata", None),
            ("GET", "/sessions/s-1/messages", None),
            ("DELETE", "/sessions/s-1", None),
            ("POST", f"/files/{upload_id}/complete", None),
            ("DELETE", f"/files/{upload_id}", None),
        ]:
            error = check_error(bob.request(method, path, json=body), 404, "not_found")
            assert "Private" not in error["message"]
            assert "secret" not in error["message"]
        bulk = bob.post("/sessions/bulk-delete", json={"sessionIds": ["s-1"]}).json()
        assert (bulk["deletedCount"], bulk["failedCount"]) == (0, 1)
        assert alice.get("/sessions/s-1/metadata").json() == before
        assert alice.get("/files/quota").json()["fileCount"] == 1

    def test_writes_with_the_same_id_only_touch_the_callers_own_session(self, api: Api) -> None:
        alice, _ = alice_with_data(api)
        bob = api("bob")
        before = alice.get("/sessions/s-1/metadata").json()
        mine = bob.put("/sessions/s-1/metadata", json={"starred": True}).json()
        assert (mine["title"], mine["preferences"].get("lastModel")) == ("New Conversation", None)
        titled = bob.post(
            "/chat/generate-title", json={"session_id": "s-1", "input": "bob's own question"}
        ).json()
        assert titled["title"] == "bob's own question"
        assert alice.get("/sessions/s-1/metadata").json() == before

    def test_listings_show_only_the_callers_data(self, api: Api) -> None:
        alice_with_data(api)
        bob = api("bob")
        assert bob.get("/sessions").json() == {"sessions": [], "nextToken": None}
        assert bob.get("/files").json() == {"files": [], "nextCursor": None, "totalCount": None}
        assert bob.get("/files", params={"sessionId": "s-1"}).json()["files"] == []
        assert bob.get("/files/quota").json()["usedBytes"] == 0
