"""The share dialog's people picker: `GET /users/search?q&limit=20`, as
`FE/users/services/user-api.service.ts` calls it (debounced, from two characters on).
FE = `frontend/ai.client/src/app` of the client."""

from __future__ import annotations

from frontend_kit import STRING, UserFactory, array, check, obj

# FE/assistants/models/assistant.model.ts: UserSearchResult, UserSearchResponse
USER_SEARCH = obj({"users": array(obj({"userId": STRING, "email": STRING, "name": STRING}))})


class TestPeoplePicker:
    def test_people_who_signed_in_are_found_by_name_or_email(self, frontend_user: UserFactory) -> None:
        owner, colleague = frontend_user(first_name="Olga"), frontend_user(first_name="Quentin")
        colleague.get("/models")  # signed in once: the service knows them from then on
        for query in (colleague.email[:9], "Quentin"):
            response = owner.get("/users/search", params={"q": query, "limit": "20"})
            assert response.status_code == 200, response.text
            check(response.json(), USER_SEARCH)
            assert colleague.email in {user["email"] for user in response.json()["users"]}

    def test_two_characters_are_enough(self, frontend_user: UserFactory) -> None:
        response = frontend_user().get("/users/search", params={"q": "zz", "limit": "20"})
        assert response.status_code == 200
        check(response.json(), USER_SEARCH)
