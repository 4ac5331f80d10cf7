"""The OAuth provider list the admin tool form loads (`FE/admin/oauth-providers/services/oauth-providers.service.ts`,
injected by `FE/admin/tools/pages/tool-form.page.ts` for its "Required OAuth Provider" choices), with the
trailing slash the client sends (FE = `frontend/ai.client/src/app`).

User OAuth connections are not part of the platform: the list is empty, and the form then offers only
"None - No user OAuth required". A 404 here was a "Not Found" toast on every tool form.
"""

from __future__ import annotations

from frontend_kit import BOOLEAN, INTEGER, STRING, UserFactory, array, check, obj

# FE/admin/oauth-providers/models/oauth-provider.model.ts: OAuthProvider, OAuthProviderListResponse
OAUTH_PROVIDER = obj(
    {
        "providerId": STRING,
        "displayName": STRING,
        "providerType": STRING,
        "authorizationEndpoint": STRING,
        "tokenEndpoint": STRING,
        "clientId": STRING,
        "scopes": array(STRING),
        "allowedRoles": array(STRING),
        "enabled": BOOLEAN,
        "iconName": STRING,
        "createdAt": STRING,
        "updatedAt": STRING,
    }
)
OAUTH_PROVIDER_LIST = obj({"providers": array(OAUTH_PROVIDER), "total": INTEGER})


class TestToolFormProviderChoices:
    def test_the_list_the_tool_form_loads_is_empty(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        listed = admin.get("/admin/oauth-providers/")
        assert listed.status_code == 200, listed.text
        check(listed.json(), OAUTH_PROVIDER_LIST)
        assert listed.json() == {"providers": [], "total": 0}

    def test_a_user_without_the_admin_role_is_refused(self, frontend_user: UserFactory) -> None:
        refused = frontend_user().get("/admin/oauth-providers/")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"

    def test_providers_cannot_be_created(self, frontend_user: UserFactory) -> None:
        admin = frontend_user(admin=True)
        body = {"providerId": "github", "displayName": "GitHub", "providerType": "github",
                "authorizationEndpoint": "https://github.com/login/oauth/authorize",
                "tokenEndpoint": "https://github.com/login/oauth/access_token", "clientId": "id",
                "clientSecret": "secret", "scopes": ["repo"]}  # fmt: skip
        created = admin.post("/admin/oauth-providers/", json=body)
        assert created.status_code in (404, 405)
        assert admin.get("/admin/oauth-providers/").json()["total"] == 0
