"""Storage adapters of the chat platform: SQLite (embedded default) and DynamoDB + S3.

`open_storage(config)` yields a `Storage` with one object per chat-core port; `resolve_files` turns
upload ids into file contents on either backend.
"""

from chat_storage.base import Storage
from chat_storage.config import AwsStorageConfig, LocalStorageConfig, StorageConfig
from chat_storage.factory import open_storage
from chat_storage.resolver import FileSources, ResolvedFile, resolve_files

__all__ = [
    "AwsStorageConfig",
    "FileSources",
    "LocalStorageConfig",
    "ResolvedFile",
    "Storage",
    "StorageConfig",
    "open_storage",
    "resolve_files",
]
