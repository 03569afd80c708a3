"""The clock every component reads, overridable so tests near a boundary are exact.

`FEATURE_STORE_AS_OF` (or `--as-of` on the command line) pins it to an ISO
timestamp; naive timestamps are taken as UTC, as everywhere in the project.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

AS_OF_ENV = "FEATURE_STORE_AS_OF"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive means UTC; `Z` accepted)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"invalid timestamp {text!r}: use ISO 8601, e.g. 2026-11-27T12:00:00Z") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now(as_of: str | None = None) -> datetime:
    """The current time in UTC: `as_of`, else `$FEATURE_STORE_AS_OF`, else the system clock."""
    pinned = as_of or os.environ.get(AS_OF_ENV)
    return parse_timestamp(pinned) if pinned else datetime.now(UTC)
