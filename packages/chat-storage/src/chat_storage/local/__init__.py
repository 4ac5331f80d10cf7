"""The embedded default backend: one SQLite database (WAL) and a blob directory under `data_dir`.

Layout of a data directory: `chat.sqlite3` (plus its `-wal` and `-shm` files) and `blobs/`. Several
processes (app-api and inference-api) may open the same directory at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from chat_core.errors import UnavailableError
from chat_storage.base import Storage
from chat_storage.config import LocalStorageConfig
from chat_storage.local._db import Database
from chat_storage.local._schema import SCHEMA_VERSION, migrate
from chat_storage.local.assistants import LocalAssistantRepository
from chat_storage.local.blobs import LocalBlobStore
from chat_storage.local.costs import LocalCostLedger
from chat_storage.local.documents import LocalDocumentRepository
from chat_storage.local.files import LocalFileRepository
from chat_storage.local.managed_models import LocalManagedModelRepository
from chat_storage.local.messages import LocalMessageRepository
from chat_storage.local.quotas import LocalQuotaRepository
from chat_storage.local.rate_limits import LocalRateLimitCounters
from chat_storage.local.roles import LocalAppRoleRepository, LocalLoginStateStore, LocalToolRepository
from chat_storage.local.sessions import LocalSessionRepository
from chat_storage.local.turns import LocalTurnRepository
from chat_storage.local.usage import LocalUsageLedger
from chat_storage.local.users import LocalUserRepository

__all__ = [
    "DATABASE_FILE",
    "SCHEMA_VERSION",
    "LocalAppRoleRepository",
    "LocalAssistantRepository",
    "LocalBlobStore",
    "LocalCostLedger",
    "LocalDocumentRepository",
    "LocalFileRepository",
    "LocalLoginStateStore",
    "LocalManagedModelRepository",
    "LocalMessageRepository",
    "LocalQuotaRepository",
    "LocalRateLimitCounters",
    "LocalSessionRepository",
    "LocalToolRepository",
    "LocalTurnRepository",
    "LocalUsageLedger",
    "LocalUserRepository",
    "open_local_storage",
]

DATABASE_FILE = "chat.sqlite3"
BLOB_DIRECTORY = "blobs"


@contextmanager
def _data_dir_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise UnavailableError(f"The data directory {str(path)!r} cannot be used.") from exc


@asynccontextmanager
async def open_local_storage(config: LocalStorageConfig) -> AsyncIterator[Storage]:
    """Open (creating and migrating as needed) the data directory of `config`.

    Raises:
        UnavailableError: when the directory or database cannot be opened.
        InternalError: when the database was written by a newer version of this package.
    """
    data_dir = config.data_dir
    with _data_dir_errors(data_dir):
        await asyncio.to_thread((data_dir / BLOB_DIRECTORY).mkdir, parents=True, exist_ok=True)
    database = await Database.open(data_dir / DATABASE_FILE, busy_timeout_ms=config.busy_timeout_ms)
    try:
        await migrate(database)
        blob_root = data_dir / BLOB_DIRECTORY

        async def ping() -> None:
            await database.fetch_one("SELECT 1")
            with _data_dir_errors(blob_root):
                if not await asyncio.to_thread(blob_root.is_dir):
                    raise FileNotFoundError(blob_root)

        yield Storage(
            backend="sqlite",
            sessions=LocalSessionRepository(database),
            messages=LocalMessageRepository(database),
            managed_models=LocalManagedModelRepository(database),
            assistants=LocalAssistantRepository(database),
            files=LocalFileRepository(database),
            documents=LocalDocumentRepository(database),
            costs=LocalCostLedger(database),
            users=LocalUserRepository(database),
            roles=LocalAppRoleRepository(database),
            tools=LocalToolRepository(database),
            login_states=LocalLoginStateStore(database),
            quotas=LocalQuotaRepository(database),
            usage=LocalUsageLedger(database),
            rate_limits=LocalRateLimitCounters(database),
            blobs=LocalBlobStore(
                blob_root,
                base_url=config.blob_base_url,
                signing_secret=config.blob_signing_secret.get_secret_value(),
            ),
            ping=ping,
            turns=LocalTurnRepository(database),
        )
    finally:
        await database.close()
