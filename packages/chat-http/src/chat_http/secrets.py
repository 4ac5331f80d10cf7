"""The secrets the embedded setup generates once into the data directory, read by both services.

Both services read the same files, so a development token minted for one is accepted by the other and
a blob URL signed by one is served by app-api.
"""

from __future__ import annotations

from chat_http.settings import EdgeSettings
from chat_storage.secrets import load_or_create_secret

__all__ = ["BLOB_SIGNING_KEY_FILE", "DEV_SIGNING_KEY_FILE", "blob_signing_secret", "dev_jwt_secret"]

BLOB_SIGNING_KEY_FILE = "blob-signing-secret"
DEV_SIGNING_KEY_FILE = "dev-jwt-secret"


def dev_jwt_secret(settings: EdgeSettings) -> str:
    """`CHAT_DEV_JWT_SECRET`, or the one generated into the data directory."""
    if settings.dev_jwt_secret is not None:
        return settings.dev_jwt_secret.get_secret_value()
    return load_or_create_secret(settings.data_dir, DEV_SIGNING_KEY_FILE)


def blob_signing_secret(settings: EdgeSettings) -> str:
    """The HMAC key of the sqlite backend's blob URLs (empty on the aws backend, where S3 signs)."""
    if settings.storage != "sqlite":
        return ""
    return load_or_create_secret(settings.data_dir, BLOB_SIGNING_KEY_FILE)
