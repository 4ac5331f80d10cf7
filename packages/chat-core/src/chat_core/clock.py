"""The one clock the platform reads: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now() -> datetime:
    """Timezone-aware now; every timestamp the platform writes is UTC."""
    return datetime.now(UTC)
