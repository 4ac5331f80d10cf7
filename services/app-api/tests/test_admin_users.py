"""`/admin/users`, `/users/me`, and a non-administrator refused on every admin route, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from app_api.config import Settings
from app_api.main import create_app

ErrorCheck = Callable[[httpx.Response, int, str], dict[str, Any]]


class TestAdminUsers:
    def test_list_search_detail_domains(self, api: Any, check_error: ErrorCheck) -> None:
        member = api("member", roles=["Staff"])
        member.get("/sessions").raise_for_status()  # first sight records the profile
        admin = api("root", roles=["admin"])
        listed = admin.get("/admin/users", params={"status": "active", "limit": 100}).json()
        assert member.user_id in [user["userId"] for user in listed["users"]]
        row = next(user for user in listed["users"] if user["userId"] == member.user_id)
        assert set(row) == {"userId", "email", "name", "status", "lastLoginAt", "emailDomain"}
        assert row["emailDomain"] == "example.com"
        assert admin.get("/admin/users", params={"domain": "example.com", "limit": 1}).json()["nextCursor"]
        found = admin.get("/admin/users/search", params={"email": member.email.upper()}).json()["users"]
        assert [user["userId"] for user in found] == [member.user_id]
        assert (
            admin.get("/admin/users/search", params={"email": "nobody@nowhere.example"}).json()["users"] == []
        )
        assert "example.com" in admin.get("/admin/users/domains/list").json()
        detail = admin.get(f"/admin/users/{member.user_id}").json()
        assert set(detail) == {
            "profile",
            "costSummary",
            "quotaStatus",
            "recentEvents",
            "effectivePermissions",
        }
        assert detail["profile"]["roles"] == ["Staff"]
        assert detail["costSummary"]["totalCost"] == 0
        check_error(admin.get("/admin/users/nobody-at-all"), 404, "not_found")
        check_error(admin.get("/admin/users", params={"status": "gone"}), 422, "validation_error")

    def test_me_shows_effective_permissions(self, api: Any) -> None:
        me = api("self", roles=["Staff"]).get("/users/me").json()
        assert me["profile"]["roles"] == ["Staff"]
        assert set(me["effectivePermissions"]) == {"appRoles", "tools", "models", "quotaTier"}


def _admin_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/admin"):
            routes.extend((method.upper(), path) for method in operations)
    return routes


class TestIsolation:
    def test_non_admin_gets_403_on_every_admin_route(self, api: Any, check_error: ErrorCheck) -> None:
        someone = api("plain", roles=["Staff", "Admin-not"])
        routes = _admin_routes()
        assert len(routes) >= 15
        for method, path in routes:
            concrete = path.replace("{", "x").replace("}", "")
            response = someone.request(method, concrete, json={})
            assert response.status_code == 403, (method, path, response.text)
            check_error(response, 403, "forbidden")

    def test_each_user_sees_only_their_own_profile_at_me(self, api: Any) -> None:
        alice, bob = api("alice"), api("bob")
        assert alice.get("/users/me").json()["profile"]["userId"] == alice.user_id
        assert bob.get("/users/me").json()["profile"]["userId"] == bob.user_id
