"""The SQLite schema and its migrations, applied by the package itself when a data directory opens.

`schema_version` holds one row: the number of migrations applied. Opening a file runs the missing
ones in order inside one `BEGIN IMMEDIATE` transaction, so two processes starting together apply each
migration exactly once and nobody ever sees half a schema. Migrations are append-only: never edit a
released one, add the next.

Times are stored as fixed-width UTC text (`2025-01-31T09:30:00.000000Z`), so string order is time
order and range conditions use the indexes. Money is stored in integer nano-dollars (1e-9 USD, the
precision `chat_core.costs` rounds to), so summed totals are exact.
"""

from __future__ import annotations

from chat_core.errors import InternalError
from chat_storage.local._db import Database, Transaction

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE sessions (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_message_at TEXT,
    message_count INTEGER NOT NULL DEFAULT 0,
    starred INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    preferences TEXT NOT NULL DEFAULT '{}',
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, session_id)
) WITHOUT ROWID;

CREATE TABLE messages (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (user_id, session_id, idx)
) WITHOUT ROWID;

CREATE TABLE managed_models (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL UNIQUE,
    model_name TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX managed_models_by_name ON managed_models (model_name, id);

CREATE TABLE assistants (
    assistant_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX assistants_by_owner ON assistants (owner_id, created_at DESC, assistant_id DESC);
CREATE INDEX assistants_by_visibility
    ON assistants (visibility, status, created_at DESC, assistant_id DESC);

CREATE TABLE assistant_shares (
    assistant_id TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TEXT NOT NULL,
    first_interacted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (assistant_id, email)
) WITHOUT ROWID;
CREATE INDEX assistant_shares_by_email ON assistant_shares (email, assistant_id);

CREATE TABLE file_uploads (
    user_id TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (user_id, upload_id)
) WITHOUT ROWID;
CREATE INDEX file_uploads_by_date ON file_uploads (user_id, created_at, upload_id);
CREATE INDEX file_uploads_by_size ON file_uploads (user_id, size_bytes, upload_id);
CREATE INDEX file_uploads_by_type ON file_uploads (user_id, mime_type, upload_id);

CREATE TABLE file_quotas (
    user_id TEXT PRIMARY KEY,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    file_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE documents (
    assistant_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (assistant_id, document_id)
) WITHOUT ROWID;
CREATE INDEX documents_by_date ON documents (assistant_id, created_at DESC, document_id DESC);

CREATE TABLE cost_records (
    user_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    period TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;

CREATE TABLE cost_summaries (
    user_id TEXT NOT NULL,
    period TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    provider TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    input_cost_nusd INTEGER NOT NULL DEFAULT 0,
    output_cost_nusd INTEGER NOT NULL DEFAULT 0,
    cache_write_cost_nusd INTEGER NOT NULL DEFAULT 0,
    cache_read_cost_nusd INTEGER NOT NULL DEFAULT 0,
    total_cost_nusd INTEGER NOT NULL DEFAULT 0,
    cache_savings_nusd INTEGER NOT NULL DEFAULT 0,
    request_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period, model_id)
) WITHOUT ROWID;

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name_key TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_by_email ON users (email_key);
CREATE INDEX users_by_name ON users (name_key);
"""

# Version 2: "newest first" needs one indexed sort key. `sort_at` is last_message_at, else created_at;
# it is a plain column (not part of the key, so it can change without moving the row), filled in for
# existing rows here and kept up to date by every write.
_V2 = """
ALTER TABLE sessions ADD COLUMN sort_at TEXT NOT NULL DEFAULT '';
UPDATE sessions SET sort_at = COALESCE(last_message_at, created_at);
CREATE INDEX sessions_by_recency ON sessions (user_id, sort_at DESC, session_id DESC)
    WHERE status = 'active';
"""

# Version 3: documents that are not finished (uploading, chunking, embedding), across assistants, least
# recently updated first: `unfinished_at` is the last update while unfinished, NULL once finished.
_V3 = """
ALTER TABLE documents ADD COLUMN unfinished_at TEXT;
UPDATE documents SET unfinished_at = json_extract(body, '$.updatedAt')
    WHERE json_extract(body, '$.status') IN ('uploading', 'chunking', 'embedding');
CREATE INDEX documents_unfinished ON documents (unfinished_at) WHERE unfinished_at IS NOT NULL;
"""

# Version 4: sign-in, AppRoles, the tool catalogue and richer user profiles. Login states expire (the
# store refuses expired ones and deletes them as it goes); profiles gain what administrators list.
_V4 = """
CREATE TABLE login_states (
    state TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_states_by_expiry ON login_states (expires_at);

CREATE TABLE app_roles (
    role_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tools (
    tool_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tool_preferences (
    user_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN email_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_login_at TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
UPDATE users SET email_domain = lower(substr(email, instr(email, '@') + 1)) WHERE instr(email, '@') > 0;
UPDATE users SET last_login_at = first_seen_at;
CREATE INDEX users_by_login ON users (last_login_at DESC, user_id DESC);
CREATE INDEX users_by_status ON users (status, last_login_at DESC, user_id DESC);
CREATE INDEX users_by_domain ON users (email_domain, last_login_at DESC, user_id DESC);
"""

# Version 5: cost records by time, for reports over a date range. `recorded_at` is the record's UTC
# timestamp as ISO text starting with its date (`YYYY-MM-DDTHH:MM:SS...`), so a day range is a string
# range; existing records get theirs here (to the second).
_V5 = """
ALTER TABLE cost_records ADD COLUMN recorded_at TEXT NOT NULL DEFAULT '';
UPDATE cost_records SET recorded_at = strftime('%Y-%m-%dT%H:%M:%SZ', json_extract(body, '$.timestamp'));
CREATE INDEX cost_records_by_time ON cost_records (user_id, recorded_at);
"""

# Version 6: turns are stored in one transaction, once per turn id. A row marks a recorded turn and
# where its messages are, so recording it again writes nothing and returns what was stored.
_V6 = """
CREATE TABLE turns (
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    first_idx INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (user_id, session_id, turn_id)
) WITHOUT ROWID;
"""

# Version 7: spend quotas and cost reports. Tiers, assignments, overrides and events of the quota
# system; per-user spend per UTC day (`YYYY-MM-DD`) and month (`YYYY-MM`) with what running turns
# reserved; the system's rollups per period (totals, per model, per tier), written with each turn's
# cost; markers that count distinct users once; and the request-rate counters shared by processes.
_V7 = """
CREATE TABLE quota_tiers (tier_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE quota_assignments (assignment_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE quota_overrides (
    override_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX quota_overrides_by_user ON quota_overrides (user_id, valid_until DESC);
CREATE INDEX quota_overrides_by_end ON quota_overrides (valid_until DESC);
CREATE TABLE quota_events (
    event_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    tier_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX quota_events_by_time ON quota_events (at DESC);
CREATE INDEX quota_events_by_user ON quota_events (user_id, at DESC);
CREATE INDEX quota_events_by_tier ON quota_events (tier_id, at DESC);
CREATE TABLE usage_periods (
    user_id TEXT NOT NULL,
    period TEXT NOT NULL,
    spent_nusd INTEGER NOT NULL DEFAULT 0,
    reserved_nusd INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    tier_id TEXT NOT NULL DEFAULT '',
    tier_name TEXT NOT NULL DEFAULT '',
    limit_nusd INTEGER,
    updated_at TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, period)
) WITHOUT ROWID;
CREATE INDEX usage_periods_by_spend ON usage_periods (period, spent_nusd DESC, user_id);
CREATE TABLE usage_reservations (
    user_id TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    amount_nusd INTEGER NOT NULL,
    day TEXT NOT NULL,
    month TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (user_id, reservation_id)
) WITHOUT ROWID;
CREATE TABLE usage_markers (
    period TEXT NOT NULL,
    scope TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (period, scope, user_id)
) WITHOUT ROWID;
CREATE TABLE cost_rollups (
    period TEXT NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    provider TEXT,
    cost_nusd INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    users INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    savings_nusd INTEGER NOT NULL DEFAULT 0,
    warned INTEGER NOT NULL DEFAULT 0,
    at_limit INTEGER NOT NULL DEFAULT 0,
    utilization REAL NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (period, kind, item)
) WITHOUT ROWID;
CREATE TABLE rate_limits (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX rate_limits_by_expiry ON rate_limits (expires_at);
"""

# Sliding-window rate counters: one row per key with both windows (see `RateLimitCounters`).
_V8 = """
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY,
    current_window INTEGER NOT NULL,
    count INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_windows_by_expiry ON rate_windows (expires_at);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
"""Migration `n` (1-based) brings a file from version `n - 1` to `n`."""

SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


async def _current_version(tx: Transaction) -> int:
    await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = await tx.fetch_one("SELECT version FROM schema_version")
    if row is None:
        await tx.execute("INSERT INTO schema_version (version) VALUES (0)")
        return 0
    return int(row["version"])


async def migrate(database: Database, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations a file is missing, up to `target`; the version it was at before.

    Raises:
        InternalError: when the file was written by a newer version of this package.
    """
    async with database.transaction() as tx:
        found = await _current_version(tx)
        if found > SCHEMA_VERSION:
            raise InternalError(
                f"The database has schema version {found}, newer than this package supports "
                f"({SCHEMA_VERSION}); upgrade chat-storage."
            )
        for version in range(found + 1, target + 1):
            for statement in _statements(MIGRATIONS[version - 1]):
                await tx.execute(statement)
            await tx.execute("UPDATE schema_version SET version = ?", (version,))
    return found
