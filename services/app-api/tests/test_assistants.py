"""Assistants over HTTP on both backends: drafts, creation, the merged listing, owner-only writes, shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

Api = Callable[..., Any]
CheckError = Callable[..., dict[str, Any]]


def create(client: httpx.Client, name: str = "Helper", **fields: Any) -> dict[str, Any]:
    response = client.post("/assistants", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: httpx.Client, **params: Any) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = client.get("/assistants", params={**params, **({"next_token": token} if token else {})}).json()
        names += [item["name"] for item in page["assistants"]]
        token = page["nextToken"]
        if token is None:
            return names


class TestCreate:
    def test_create_keeps_every_field_and_hides_the_owner_id(self, api: Api) -> None:
        alice = api()
        body = create(
            alice,
            "Tutor",
            description="Helps",
            instructions="Be kind",
            visibility="PUBLIC",
            tags=["math"],
            imageUrl="https://img.example/t.png",
        )
        assert body["assistantId"].startswith("ast-")
        assert body["status"] == "COMPLETE"
        assert body["imageUrl"] == "https://img.example/t.png"
        assert body["ownerName"] == alice.name
        assert "ownerId" not in body
        assert alice.get(f"/assistants/{body['assistantId']}").json() == body

    def test_draft_gets_a_default_name(self, api: Api) -> None:
        response = api().post("/assistants/draft", json={})
        assert response.status_code == 201
        assert (response.json()["name"], response.json()["status"]) == ("Untitled Assistant", "DRAFT")

    def test_the_forms_whole_value_creates_a_complete_assistant(self, api: Api) -> None:
        form = {
            "name": "Tutor",
            "description": "Helps",
            "instructions": "Be kind",
            "vectorIndexId": "idx_assistants",
            "visibility": "PRIVATE",
            "tags": [],
            "status": "DRAFT",
        }
        response = api().post("/assistants", json=form)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "COMPLETE"
        assert body["vectorIndexId"] == body["assistantId"]

    def test_a_draft_has_an_index_id(self, api: Api) -> None:
        body = api().post("/assistants/draft", json={"name": "Untitled Assistant"}).json()
        assert body["vectorIndexId"] == body["assistantId"]

    def test_invalid_body_is_422(self, api: Api, check_error: CheckError) -> None:
        check_error(api().post("/assistants", json={"name": ""}), 422, "validation_error")
        check_error(
            api().post("/assistants", json={"name": "x", "visibility": "SECRET"}), 422, "validation_error"
        )


class TestList:
    def test_own_then_shared_then_public_without_repeats(self, api: Api) -> None:
        alice, bob = api("alice"), api("bob")
        create(alice, "a-complete")
        alice.post("/assistants/draft", json={"name": "a-draft"})
        archived = create(alice, "a-archived")
        alice.post(f"/assistants/{archived['assistantId']}/archive")
        create(alice, "a-public", visibility="PUBLIC")
        shared = create(bob, "b-shared", visibility="SHARED")
        bob.post(f"/assistants/{shared['assistantId']}/shares", json={"emails": [alice.email.upper()]})
        private_share = create(bob, "b-private-with-share")
        bob.post(f"/assistants/{private_share['assistantId']}/shares", json={"emails": [alice.email]})
        create(bob, "b-public", visibility="PUBLIC")
        assert set(listed(alice, limit=1)) == {"a-complete", "a-public", "b-shared"}
        with_all = listed(alice, limit=2, include_drafts=True, include_archived=True, include_public=True)
        assert with_all.index("b-shared") > max(with_all.index(name) for name in ("a-complete", "a-draft"))
        assert {"a-complete", "a-draft", "a-archived", "a-public", "b-shared", "b-public"} <= set(with_all)
        assert "b-private-with-share" not in with_all
        assert with_all.count("a-public") == 1

    def test_shared_flag(self, api: Api) -> None:
        alice, bob = api("alice"), api("bob")
        shared = create(bob, "b-shared", visibility="SHARED")
        bob.post(f"/assistants/{shared['assistantId']}/shares", json={"emails": [alice.email]})
        item = alice.get("/assistants").json()["assistants"][0]
        assert (item["name"], item["isSharedWithMe"]) == ("b-shared", True)
        assert alice.get(f"/assistants/{shared['assistantId']}").json()["isSharedWithMe"] is True

    def test_a_token_from_other_flags_is_refused(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        for index in range(2):
            create(alice, f"a{index}")
        token = alice.get("/assistants", params={"limit": 1}).json()["nextToken"]
        check_error(
            alice.get("/assistants", params={"next_token": token, "include_public": True}),
            422,
            "validation_error",
        )


class TestOwnerOnly:
    def test_update_and_archive(self, api: Api) -> None:
        alice = api()
        assistant = create(alice)
        path = f"/assistants/{assistant['assistantId']}"
        updated = alice.put(path, json={"description": "new", "tags": ["x"]}).json()
        assert (updated["description"], updated["tags"], updated["name"]) == ("new", ["x"], "Helper")
        assert alice.post(f"{path}/archive").json()["status"] == "ARCHIVED"

    def test_the_edit_forms_whole_value_publishes_a_draft(self, api: Api) -> None:
        alice = api()
        draft = alice.post("/assistants/draft", json={"name": "Untitled Assistant"}).json()
        form = {
            "name": "Tutor",
            "description": "Helps",
            "instructions": "Be kind",
            "vectorIndexId": draft["vectorIndexId"],
            "visibility": "PRIVATE",
            "tags": ["math"],
            "status": "COMPLETE",
        }
        response = alice.put(f"/assistants/{draft['assistantId']}", json=form)
        assert response.status_code == 200, response.text
        assert (response.json()["name"], response.json()["status"]) == ("Tutor", "COMPLETE")

    @pytest.mark.parametrize("field", ["visibility", "status", "name", "tags", "vectorIndexId"])
    def test_null_for_a_non_nullable_field_is_422_naming_it(
        self, api: Api, check_error: CheckError, field: str
    ) -> None:
        alice = api()
        assistant = create(alice)
        error = check_error(
            alice.put(f"/assistants/{assistant['assistantId']}", json={field: None}), 422, "validation_error"
        )
        assert error["field"] == field
        assert alice.get(f"/assistants/{assistant['assistantId']}").json() == assistant

    def test_private_assistant_is_404_to_others_and_learns_nothing(
        self, api: Api, check_error: CheckError
    ) -> None:
        alice, bob = api("alice"), api("bob")
        assistant = create(alice, instructions="secret")
        path = f"/assistants/{assistant['assistantId']}"
        missing = check_error(bob.get("/assistants/ast-000000000000"), 404, "not_found")
        for method, suffix, body in [
            ("GET", "", None),
            ("PUT", "", {"name": "mine"}),
            ("DELETE", "", None),
            ("POST", "/archive", None),
            ("GET", "/shares", None),
            ("POST", "/shares", {"emails": [bob.email]}),
            ("DELETE", "/shares", {"emails": [bob.email]}),
        ]:
            error = check_error(bob.request(method, f"{path}{suffix}", json=body), 404, "not_found")
            assert "secret" not in str(error)
            assert error["message"].replace(assistant["assistantId"], "X") == missing["message"].replace(
                "ast-000000000000", "X"
            )
        assert alice.get(path).json() == assistant

    def test_users_of_a_shared_assistant_may_read_but_not_write(
        self, api: Api, check_error: CheckError
    ) -> None:
        alice, bob = api("alice"), api("bob")
        assistant = create(alice, visibility="SHARED")
        path = f"/assistants/{assistant['assistantId']}"
        alice.post(f"{path}/shares", json={"emails": [bob.email]})
        assert bob.get(path).status_code == 200
        check_error(bob.put(path, json={"name": "mine"}), 403, "forbidden")
        check_error(bob.delete(path), 403, "forbidden")
        check_error(bob.get(f"{path}/shares"), 403, "forbidden")

    def test_drafts_are_invisible_to_others_even_when_public(self, api: Api, check_error: CheckError) -> None:
        alice, bob = api("alice"), api("bob")
        draft = alice.post("/assistants/draft", json={"name": "wip"}).json()
        alice.put(f"/assistants/{draft['assistantId']}", json={"visibility": "PUBLIC"})
        check_error(bob.get(f"/assistants/{draft['assistantId']}"), 404, "not_found")


class TestShares:
    def test_share_list_unshare(self, api: Api, check_error: CheckError) -> None:
        alice, bob = api("alice"), api("bob")
        assistant = create(alice, visibility="SHARED")
        path = f"/assistants/{assistant['assistantId']}/shares"
        added = alice.post(path, json={"emails": [bob.email, "Carol@Example.com"]}).json()
        assert added == {
            "assistantId": assistant["assistantId"],
            "sharedWith": sorted([bob.email, "carol@example.com"]),
        }
        assert alice.get(path).json() == added
        assert bob.get(f"/assistants/{assistant['assistantId']}").status_code == 200
        remaining = alice.request("DELETE", path, json={"emails": [bob.email]}).json()
        assert remaining["sharedWith"] == ["carol@example.com"]
        check_error(bob.get(f"/assistants/{assistant['assistantId']}"), 404, "not_found")

    def test_an_email_with_a_control_character_is_422(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        assistant = create(alice)
        response = alice.post(
            f"/assistants/{assistant['assistantId']}/shares", json={"emails": ["a\u001cb@example.com"]}
        )
        check_error(response, 422, "validation_error")

    def test_bad_email_is_422(self, api: Api, check_error: CheckError) -> None:
        alice = api()
        assistant = create(alice)
        check_error(
            alice.post(f"/assistants/{assistant['assistantId']}/shares", json={"emails": ["not an email"]}),
            422,
            "validation_error",
        )

    def test_deleting_an_assistant_removes_its_shares(self, api: Api, check_error: CheckError) -> None:
        alice, bob = api("alice"), api("bob")
        assistant = create(alice, visibility="SHARED")
        alice.post(f"/assistants/{assistant['assistantId']}/shares", json={"emails": [bob.email]})
        assert alice.delete(f"/assistants/{assistant['assistantId']}").status_code == 204
        check_error(alice.get(f"/assistants/{assistant['assistantId']}"), 404, "not_found")
        assert bob.get("/assistants").json()["assistants"] == []
