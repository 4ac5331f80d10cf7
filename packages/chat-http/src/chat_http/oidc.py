"""The identity provider as both services see it: its discovery document and its signing keys.

Both are fetched over HTTP when first needed and cached. Any failure to reach the provider is an
`UnavailableError` (503 with `Retry-After`): a client must not mistake an outage of the identity
provider for an invalid token. Signing keys are refreshed when a token names an unknown `kid` (the
provider rotated its keys), at most once per `min_refresh_seconds`, so a flood of tokens with made-up
key ids cannot turn into a flood of requests to the provider.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from chat_core.errors import AuthenticationError, UnavailableError

if TYPE_CHECKING:
    import jwt

__all__ = ["JwksCache", "OidcProvider", "ProviderMetadata"]

_DISCOVERY_PATH = "/.well-known/openid-configuration"
_MAX_DOCUMENT_BYTES = 1024 * 1024
_METADATA_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The endpoints of an OpenID provider, from its discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


def _get_json(url: str, *, timeout: float, what: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise UnavailableError(f"The identity provider cannot be reached to read its {what}.") from exc
    if response.status_code != 200 or len(response.content) > _MAX_DOCUMENT_BYTES:
        raise UnavailableError(
            f"The identity provider answered {response.status_code} for its {what}.",
            detail={"status": response.status_code},
        )
    try:
        document = response.json()
    except ValueError as exc:
        raise UnavailableError(f"The identity provider's {what} is not JSON.") from exc
    if not isinstance(document, dict):
        raise UnavailableError(f"The identity provider's {what} is not a JSON object.")
    return document


class OidcProvider:
    """An issuer's discovery document (`{issuer}/.well-known/openid-configuration`), cached for an hour."""

    def __init__(self, issuer: str, *, timeout: float = 5.0) -> None:
        self.issuer = issuer.rstrip("/")
        self._timeout = timeout
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0

    def metadata(self) -> ProviderMetadata:
        """The provider's endpoints (blocks on the first fetch and once an hour).

        Raises:
            UnavailableError: the provider cannot be reached or its document is unusable.
        """
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > _METADATA_SECONDS:
                document = _get_json(
                    self.issuer + _DISCOVERY_PATH, timeout=self._timeout, what="discovery document"
                )
                try:
                    self._metadata = ProviderMetadata(
                        issuer=str(document["issuer"]),
                        authorization_endpoint=str(document["authorization_endpoint"]),
                        token_endpoint=str(document["token_endpoint"]),
                        jwks_uri=str(document["jwks_uri"]),
                        end_session_endpoint=(
                            str(document["end_session_endpoint"])
                            if document.get("end_session_endpoint")
                            else None
                        ),
                    )
                except KeyError as exc:
                    raise UnavailableError(
                        f"The identity provider's discovery document lacks {exc.args[0]!r}."
                    ) from exc
                self._fetched_at = time.monotonic()
            return self._metadata


class JwksCache:
    """An identity provider's signing keys by `kid`, refreshed on an unknown key at a bounded rate."""

    def __init__(
        self, source: str | OidcProvider, *, timeout: float = 5.0, min_refresh_seconds: float = 30.0
    ) -> None:
        self._source = source
        self._timeout = timeout
        self._min_refresh = min_refresh_seconds
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._attempted_at: float | None = None
        self._failed = False
        self.fetches = 0
        """How many times the key set was fetched (for tests and diagnostics)."""

    def _refresh(self) -> None:
        self._attempted_at = time.monotonic()
        self.fetches += 1
        self._failed = True
        url = self._source if isinstance(self._source, str) else self._source.metadata().jwks_uri
        document = _get_json(url, timeout=self._timeout, what="signing keys")
        import jwt  # with the first key set, not with the service (see chat_http.auth)

        try:
            key_set = jwt.PyJWKSet.from_dict(document)
        except jwt.PyJWKSetError as exc:
            raise UnavailableError("The identity provider published no usable signing keys.") from exc
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._failed = False

    def key(self, kid: str) -> Any:
        """The public key for `kid` (blocks on a fetch when `kid` is new).

        Raises:
            AuthenticationError: `kid` is unknown even after a refresh (or one was done too recently).
            UnavailableError: the key set cannot be fetched (also within the refresh interval after a
                failed fetch, without asking the provider again).
        """
        with self._lock:
            if kid not in self._keys:
                if self._attempted_at is None or time.monotonic() - self._attempted_at >= self._min_refresh:
                    self._refresh()
                elif self._failed:
                    raise UnavailableError(
                        "The identity provider's signing keys cannot be fetched right now."
                    )
            found = self._keys.get(kid)
        if found is None:
            raise AuthenticationError("The token was signed with an unknown key.")
        return found.key
