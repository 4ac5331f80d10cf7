"""Admin: users, as `FE/admin/users/services/user-http.service.ts` calls them, with the shapes of
`FE/admin/users/models/user.models.ts` (FE = `frontend/ai.client/src/app`). A user is listed once the
services have seen their token."""

from __future__ import annotations

from urllib.parse import quote

from frontend_kit import (
    ISO_DATE_TIME,
    NUMBER,
    STRING,
    UserFactory,
    array,
    check,
    enum,
    obj,
)

STATUS = enum("active", "inactive", "suspended")
# user.models.ts: UserListItem, UserListResponse
USER_LIST_ITEM = obj(
    {"userId": STRING, "email": STRING, "name": STRING, "status": STATUS, "lastLoginAt": ISO_DATE_TIME},
    {"emailDomain": STRING, "currentMonthCost": NUMBER, "quotaUsagePercentage": NUMBER},
)
USER_LIST = obj({"users": array(USER_LIST_ITEM)}, {"nextCursor": STRING, "totalCount": NUMBER})
# user.models.ts: UserProfile, CostSummary, QuotaStatus, QuotaEventSummary, UserDetailResponse
USER_DETAIL = obj(
    {
        "profile": obj(
            {
                "userId": STRING,
                "email": STRING,
                "name": STRING,
                "roles": array(STRING),
                "emailDomain": STRING,
                "createdAt": ISO_DATE_TIME,
                "lastLoginAt": ISO_DATE_TIME,
                "status": STATUS,
            },
            {"picture": STRING},
        ),
        "costSummary": obj(
            {
                "totalCost": NUMBER,
                "totalRequests": NUMBER,
                "totalInputTokens": NUMBER,
                "totalOutputTokens": NUMBER,
                "cacheSavings": NUMBER,
            },
            {"primaryModel": STRING},
        ),
        "quotaStatus": obj(
            {"currentUsage": NUMBER, "usagePercentage": NUMBER, "hasActiveOverride": {"type": "boolean"}},
            {
                "tierId": STRING,
                "tierName": STRING,
                "matchedBy": STRING,
                "monthlyLimit": NUMBER,
                "remaining": NUMBER,
                "overrideReason": STRING,
            },
        ),
        "recentEvents": array(
            obj(
                {
                    "eventId": STRING,
                    "eventType": enum("warning", "block", "reset", "override_applied"),
                    "timestamp": STRING,
                    "percentageUsed": NUMBER,
                }
            )
        ),
    }
)
DOMAINS = array(STRING)


class TestUserPages:
    def test_the_list_page_as_it_loads(self, frontend_user: UserFactory) -> None:
        seen = frontend_user(first_name="Listed")
        assert seen.get("/sessions").status_code == 200  # the services see the user's token
        admin = frontend_user(admin=True)
        listed = admin.get("/admin/users", params={"status": "active", "limit": 25})
        assert listed.status_code == 200, listed.text
        check(listed.json(), USER_LIST)
        assert seen.user_id in [user["userId"] for user in listed.json()["users"]]  # most recent first

    def test_paging_with_the_cursor(self, frontend_user: UserFactory) -> None:
        for _ in range(3):
            assert frontend_user().get("/sessions").status_code == 200
        admin = frontend_user(admin=True)
        first = admin.get("/admin/users", params={"status": "active", "limit": 2}).json()
        assert len(first["users"]) == 2
        assert first["nextCursor"]
        second = admin.get(
            "/admin/users", params={"status": "active", "limit": 2, "cursor": first["nextCursor"]}
        )
        check(second.json(), USER_LIST)
        assert not {user["userId"] for user in first["users"]} & {
            user["userId"] for user in second.json()["users"]
        }

    def test_search_by_exact_email_and_the_detail_page(self, frontend_user: UserFactory) -> None:
        seen = frontend_user(first_name="Found")
        seen.get("/sessions")
        admin = frontend_user(admin=True)
        found = admin.get("/admin/users/search", params={"email": seen.email})
        check(found.json(), USER_LIST)
        assert [user["userId"] for user in found.json()["users"]] == [seen.user_id]
        assert admin.get("/admin/users/search", params={"email": "nobody@example.edu"}).json()["users"] == []
        detail = admin.get(f"/admin/users/{quote(seen.user_id, safe='')}")
        assert detail.status_code == 200, detail.text
        check(detail.json(), USER_DETAIL)
        assert detail.json()["profile"]["email"] == seen.email
        assert detail.json()["profile"]["emailDomain"] == "example.edu"

    def test_domains_and_the_domain_filter(self, frontend_user: UserFactory) -> None:
        frontend_user().get("/sessions")
        admin = frontend_user(admin=True)
        domains = admin.get("/admin/users/domains/list", params={"limit": 50})
        check(domains.json(), DOMAINS)
        assert "example.edu" in domains.json()
        filtered = admin.get(
            "/admin/users", params={"status": "active", "limit": 25, "domain": "example.edu"}
        )
        check(filtered.json(), USER_LIST)
        assert {user["emailDomain"] for user in filtered.json()["users"]} == {"example.edu"}

    def test_an_unknown_user_is_a_404_with_a_message(self, frontend_user: UserFactory) -> None:
        missing = frontend_user(admin=True).get("/admin/users/000000001")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"]

    def test_a_user_without_the_admin_role_is_refused(self, frontend_user: UserFactory) -> None:
        user = frontend_user()
        for path in ("/admin/users", "/admin/users/search?email=a@example.edu", "/admin/users/domains/list"):
            refused = user.get(path)
            assert refused.status_code == 403, path
            assert refused.json()["error"]["code"] == "forbidden"


USER_ME = obj({"profile": obj({"userId": STRING, "email": STRING, "roles": array(STRING)})})


def test_users_me_is_the_callers_own(frontend_user: UserFactory) -> None:
    """`GET /users/me` (not called by this client; the same profile the admin pages show)."""
    alice, bob = frontend_user(), frontend_user(first_name="Bob")
    mine = alice.get("/users/me").json()
    check(mine, USER_ME)
    assert mine["profile"]["userId"] == alice.user_id
    assert bob.get("/users/me").json()["profile"]["userId"] == bob.user_id
