"""Sharing an assistant, as `FE/assistants/components/share-assistant-dialog.component.ts` does it with
`FE/assistants/services/assistant-api.service.ts`, and the share picker's
`GET /users/search` (`FE/users/services/user-api.service.ts`). FE = `frontend/ai.client/src/app`.
"""

from __future__ import annotations

from frontend_kit import STRING, UserFactory, array, check, obj

# FE/assistants/models/assistant.model.ts: AssistantSharesResponse
SHARES = obj({"assistantId": STRING, "sharedWith": array(STRING)})
# FE/assistants/models/assistant.model.ts: UserSearchResult, UserSearchResponse
USER_SEARCH = obj({"users": array(obj({"userId": STRING, "email": STRING, "name": STRING}))})


class TestShareDialog:
    def test_sharing_with_a_colleague_and_taking_it_back(self, frontend_user: UserFactory) -> None:
        owner = frontend_user(first_name="Olga")
        colleague = frontend_user(first_name="Carl")
        colleague.get("/models")  # the colleague has signed in once, so the picker knows them
        created = owner.post(
            "/assistants",
            json={
                "name": "Shared helper",
                "description": "",
                "instructions": "",
                "vectorIndexId": "idx_assistants",
                "visibility": "PRIVATE",
                "tags": [],
                "status": "DRAFT",
            },
        ).json()
        path = f"/assistants/{created['assistantId']}"

        # the picker: debounced search, at least two characters, limit 20
        found = owner.get("/users/search", params={"q": colleague.email[:6], "limit": "20"})
        assert found.status_code == 200
        check(found.json(), USER_SEARCH)
        assert colleague.email in {user["email"] for user in found.json()["users"]}

        # adding: PRIVATE -> SHARED, read the shares, then POST the added (lower-cased) emails
        assert owner.put(path, json={"visibility": "SHARED"}).status_code == 200
        before = owner.get(f"{path}/shares")
        assert before.status_code == 200
        check(before.json(), SHARES)
        added = owner.post(f"{path}/shares", json={"emails": [colleague.email.lower()]})
        assert added.status_code == 200, added.text
        assert owner.get(f"{path}/shares").json()["sharedWith"] == [colleague.email.lower()]

        # the colleague now sees it, marked as shared with them
        listed = colleague.get(
            "/assistants",
            params={"include_drafts": "true", "include_archived": "false", "include_public": "false"},
        ).json()["assistants"]
        assert [(item["assistantId"], item["isSharedWithMe"]) for item in listed] == [
            (created["assistantId"], True)
        ]

        # removing: DELETE with a JSON body, then SHARED -> PRIVATE when nobody is left
        removed = owner.request("DELETE", f"{path}/shares", json={"emails": [colleague.email.lower()]})
        assert removed.status_code == 200, removed.text
        check(removed.json(), SHARES)
        assert owner.put(path, json={"visibility": "PRIVATE"}).status_code == 200
        assert colleague.get(path).status_code == 404

    def test_only_the_owner_manages_shares(self, frontend_user: UserFactory) -> None:
        owner, other = frontend_user(), frontend_user()
        created = owner.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()
        assert other.get(f"/assistants/{created['assistantId']}/shares").status_code == 404
