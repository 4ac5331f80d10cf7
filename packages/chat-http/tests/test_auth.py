import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chat_core.errors import AuthenticationError, InternalError, PermissionDeniedError, UnavailableError
from chat_core.identity import User
from chat_http.auth import (
    DEV_ISSUER,
    DevTokenVerifier,
    OidcTokenVerifier,
    VerifiedToken,
    VerifiedTokens,
    mint_dev_token,
)
from chat_http.oidc import OidcProvider
from chat_http.settings import ClaimNames

SECRET = "s" * 48
ISSUER = "https://login.example.com/tenant/v2.0"
AUDIENCE = "api://chat"


def dev_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "alice", "email": "Alice@Example.com", "name": "Alice", "roles": ["admin"], "iss": DEV_ISSUER,
              "aud": "chat-platform", "iat": now, "exp": now + 60}  # fmt: skip
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


class TestDevTokens:
    def test_minted_token_round_trips(self) -> None:
        token = mint_dev_token(
            SECRET, user_id="alice", email="Alice@Example.com", name="Alice", roles=["admin"]
        )
        user = DevTokenVerifier(SECRET).verify(token)
        assert (user.user_id, user.email, user.name, user.roles) == (
            "alice",
            "alice@example.com",
            "Alice",
            ["admin"],
        )

    def test_expired(self) -> None:
        token = jwt.encode(dev_claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="expired"):
            DevTokenVerifier(SECRET).verify(token)

    def test_wrong_audience(self) -> None:
        token = jwt.encode(dev_claims(aud="someone-else"), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="not meant for this service"):
            DevTokenVerifier(SECRET).verify(token)

    def test_wrong_issuer(self) -> None:
        token = jwt.encode(dev_claims(iss="evil"), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="unknown issuer"):
            DevTokenVerifier(SECRET).verify(token)

    def test_wrong_secret(self) -> None:
        token = jwt.encode(dev_claims(), "x" * 48, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="could not be verified"):
            DevTokenVerifier(SECRET).verify(token)

    def test_unsigned_token_is_refused(self) -> None:
        token = jwt.encode(dev_claims(), None, algorithm="none")  # type: ignore[arg-type]  # "none" takes no key
        with pytest.raises(AuthenticationError):
            DevTokenVerifier(SECRET).verify(token)

    def test_missing_expiry(self) -> None:
        token = jwt.encode(dev_claims(exp=None), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="'exp'"):
            DevTokenVerifier(SECRET).verify(token)

    def test_missing_roles_claim_means_no_roles(self) -> None:
        token = jwt.encode(dev_claims(roles=None), SECRET, algorithm="HS256")
        assert DevTokenVerifier(SECRET).verify(token).roles == []

    def test_single_role_string_is_a_list_of_one(self) -> None:
        token = jwt.encode(dev_claims(roles="admin"), SECRET, algorithm="HS256")
        assert DevTokenVerifier(SECRET).verify(token).roles == ["admin"]

    @pytest.mark.parametrize("roles", [{"a": 1}, [1, 2], 5])
    def test_malformed_roles_claim(self, roles: Any) -> None:
        token = jwt.encode(dev_claims(roles=roles), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="roles"):
            DevTokenVerifier(SECRET).verify(token)

    def test_empty_subject(self) -> None:
        token = jwt.encode(dev_claims(sub=""), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationError):
            DevTokenVerifier(SECRET).verify(token)

    def test_garbage(self) -> None:
        with pytest.raises(AuthenticationError):
            DevTokenVerifier(SECRET).verify("not-a-jwt")

    def test_short_secret_is_refused(self) -> None:
        with pytest.raises(InternalError):
            DevTokenVerifier("short")


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [public | {"kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/keys"
    server.shutdown()
    server.server_close()


def oidc_token(key: rsa.RSAPrivateKey, kid: str = "key-1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "u-9", "preferred_username": "Bob@Example.com", "roles": ["staff"], "iss": ISSUER, "aud": AUDIENCE,
              "iat": now, "exp": now + 300}  # fmt: skip
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


class TestOidcTokens:
    def verifier(self, url: str, **kwargs: Any) -> OidcTokenVerifier:
        return OidcTokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, **kwargs)

    def test_valid_token(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        user = self.verifier(jwks_url).verify(oidc_token(signing_key))
        assert (user.user_id, user.email, user.roles) == ("u-9", "bob@example.com", ["staff"])

    def test_the_expiry_is_the_tokens_exp_claim(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        expires = int(time.time()) + 120
        verified = self.verifier(jwks_url).verify_token(oidc_token(signing_key, exp=expires))
        assert (verified.user.user_id, verified.expires_at) == ("u-9", expires)

    def test_custom_roles_claim(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        token = oidc_token(signing_key, groups=["faculty"])
        assert self.verifier(jwks_url, roles_claim="groups").verify(token).roles == ["faculty"]

    def test_wrong_audience(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        with pytest.raises(AuthenticationError, match="not meant"):
            self.verifier(jwks_url).verify(oidc_token(signing_key, aud="api://other"))

    def test_expired_beyond_leeway(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        with pytest.raises(AuthenticationError, match="expired"):
            self.verifier(jwks_url).verify(oidc_token(signing_key, exp=int(time.time()) - 120))

    def test_expired_within_leeway_is_accepted(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        assert (
            self.verifier(jwks_url).verify(oidc_token(signing_key, exp=int(time.time()) - 10)).user_id
            == "u-9"
        )

    def test_unknown_key_id(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        with pytest.raises(AuthenticationError, match="unknown key"):
            self.verifier(jwks_url).verify(oidc_token(signing_key, kid="key-2"))

    def test_signed_by_another_key(self, jwks_url: str) -> None:
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with pytest.raises(AuthenticationError, match="could not be verified"):
            self.verifier(jwks_url).verify(oidc_token(other))

    def test_hs256_token_with_public_key_confusion_is_refused(self, jwks_url: str) -> None:
        token = jwt.encode(
            {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
            "k" * 40,
            algorithm="HS256",
            headers={"kid": "key-1"},
        )
        with pytest.raises(AuthenticationError):
            self.verifier(jwks_url).verify(token)

    def test_unreachable_jwks_is_unavailable_not_unauthorized(self, signing_key: rsa.RSAPrivateKey) -> None:
        verifier = self.verifier("http://127.0.0.1:9/keys", jwks_refresh_seconds=60)
        with pytest.raises(UnavailableError, match="cannot be reached"):
            verifier.verify(oidc_token(signing_key))
        with pytest.raises(UnavailableError, match="right now"):  # within the interval: no new request
            verifier.verify(oidc_token(signing_key))

    def test_audience_list(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        verifier = OidcTokenVerifier(
            issuer=ISSUER, audience="api://chat-client, chat-client", jwks_url=jwks_url
        )
        assert verifier.verify(oidc_token(signing_key, aud="chat-client")).user_id == "u-9"
        assert verifier.verify(oidc_token(signing_key, aud="api://chat-client")).user_id == "u-9"
        with pytest.raises(AuthenticationError, match="not meant"):
            verifier.verify(oidc_token(signing_key, aud="api://other"))

    def test_required_scope(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        verifier = self.verifier(jwks_url, required_scope="Read")
        assert verifier.verify(oidc_token(signing_key, scp="User.Read Read")).user_id == "u-9"
        assert verifier.verify(oidc_token(signing_key, scope="openid Read")).user_id == "u-9"
        with pytest.raises(PermissionDeniedError, match="Read"):
            verifier.verify(oidc_token(signing_key, scp="User.Read"))

    def test_configured_identity_claims(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        claim = "http://schemas.boisestate.edu/claims/employeenumber"
        verifier = self.verifier(
            jwks_url, claims=ClaimNames(user_id=claim, email="upn", name="display", roles="groups")
        )
        user = verifier.verify(
            oidc_token(signing_key, **{claim: "123456789", "upn": "E@X.org", "display": "E", "groups": ["g"]})
        )
        assert (user.user_id, user.email, user.name, user.roles) == ("123456789", "e@x.org", "E", ["g"])
        assert verifier.verify(oidc_token(signing_key, **{claim: 987654321})).user_id == "987654321"
        with pytest.raises(AuthenticationError, match="employeenumber"):
            verifier.verify(oidc_token(signing_key))

    def test_name_from_given_and_family_names(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        token = oidc_token(signing_key, given_name="Ada", family_name="Lovelace")
        assert self.verifier(jwks_url).verify(token).name == "Ada Lovelace"


class TestKeyRotation:
    def test_unknown_kid_refreshes_once_per_interval(self) -> None:
        old, new = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
        published = {"keys": [jwk_of(old, "old")]}
        with json_server(lambda: published) as url:
            verifier = OidcTokenVerifier(
                issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_refresh_seconds=0
            )
            assert verifier.verify(oidc_token(old, kid="old")).user_id == "u-9"
            published["keys"] = [jwk_of(new, "new")]
            assert verifier.verify(oidc_token(new, kid="new")).user_id == "u-9"
            slow = OidcTokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_url=url, jwks_refresh_seconds=60)
            slow.verify(oidc_token(new, kid="new"))
            for n in range(5):
                with pytest.raises(AuthenticationError, match="unknown key"):
                    slow.verify(oidc_token(new, kid=f"made-up-{n}"))
            assert slow._keys.fetches == 1

    def test_keys_found_through_discovery(self, signing_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
        with json_server(lambda: {"issuer": ISSUER, "authorization_endpoint": "a", "token_endpoint": "t",
                                  "jwks_uri": jwks_url}) as discovery:  # fmt: skip
            provider = OidcProvider(discovery.rsplit("/", 1)[0])
            verifier = OidcTokenVerifier(issuer=ISSUER, audience=AUDIENCE, provider=provider)
            assert verifier.verify(oidc_token(signing_key)).user_id == "u-9"
            assert provider.metadata().jwks_uri == jwks_url

    def test_discovery_unreachable_is_unavailable(self, signing_key: rsa.RSAPrivateKey) -> None:
        verifier = OidcTokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, provider=OidcProvider("http://127.0.0.1:9")
        )
        with pytest.raises(UnavailableError):
            verifier.verify(oidc_token(signing_key))


def jwk_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return dict(public | {"kid": kid, "use": "sig", "alg": "RS256"})


@contextmanager
def json_server(body: Callable[[], dict[str, Any]]) -> Iterator[str]:
    """A server answering every GET with `body()` as JSON; yields `<base>/.well-known/openid-configuration`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(body()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/openid-configuration"
    finally:
        server.shutdown()
        server.server_close()


class TestDevTokenClaims:
    def test_extra_claims_and_configured_user_id(self) -> None:
        claim = "http://schemas.boisestate.edu/claims/employeenumber"
        token = mint_dev_token(SECRET, user_id="alice", email="a@example.com", roles=["Admin", "admin"],
                               extra_claims={claim: "123456789"})  # fmt: skip
        assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="chat-platform")[claim] == "123456789"
        user = DevTokenVerifier(SECRET, claims=ClaimNames(user_id=claim)).verify(token)
        assert (user.user_id, user.roles) == ("123456789", ["Admin", "admin"])


class TestVerifiedTokens:
    """The tokens a process keeps after verifying them (time is a fake clock)."""

    def verified(self, user_id: str, expires_at: float) -> VerifiedToken:
        return VerifiedToken(User(user_id=user_id, email=f"{user_id}@example.com"), expires_at)

    def test_a_token_is_kept_until_it_expires_or_the_ttl_ends_whichever_is_first(self) -> None:
        now = [1000.0]
        tokens = VerifiedTokens(ttl=60, clock=lambda: now[0])
        tokens.add("short", self.verified("alice", expires_at=1010))
        tokens.add("long", self.verified("bob", expires_at=5000))
        now[0] = 1009.9
        assert tokens.get("short") == User(user_id="alice", email="alice@example.com")
        now[0] = 1010.0  # the token's own expiry
        assert tokens.get("short") is None
        assert tokens.get("long") is not None
        now[0] = 1060.0  # the ttl
        assert tokens.get("long") is None

    def test_only_the_exact_text_that_verified_is_found(self) -> None:
        tokens = VerifiedTokens(ttl=60)
        token = mint_dev_token(SECRET, user_id="alice", email="alice@example.com")
        tokens.add(token, DevTokenVerifier(SECRET).verify_token(token))
        assert tokens.get(token) is not None
        assert tokens.get(token[:-1] + ("A" if token[-1] != "A" else "B")) is None

    def test_a_ttl_of_zero_keeps_nothing(self) -> None:
        tokens = VerifiedTokens(ttl=0)
        tokens.add("t", self.verified("alice", expires_at=time.time() + 600))
        assert tokens.get("t") is None

    def test_at_most_maxsize_tokens_are_kept_least_recently_used_first_out(self) -> None:
        tokens = VerifiedTokens(ttl=60, maxsize=2)
        later = time.time() + 600
        tokens.add("a", self.verified("a", later))
        tokens.add("b", self.verified("b", later))
        assert tokens.get("a") is not None
        tokens.add("c", self.verified("c", later))
        assert [tokens.get(name) is not None for name in "abc"] == [True, False, True]

    def test_the_expiry_is_the_tokens_exp_claim(self) -> None:
        expires = int(time.time()) + 90
        token = jwt.encode(dev_claims(exp=expires), SECRET, algorithm="HS256")
        assert DevTokenVerifier(SECRET).verify_token(token).expires_at == expires
