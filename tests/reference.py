"""An independent reference for tests: the latest offline row per entity, in plain Python.

Deliberately not the sync's SQL: it reads the Parquet file with pyarrow and
picks rows in Python, so a bug in the sync's query cannot hide in both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


def latest_rows(
    parquet: Path, key: str, timestamp: str, as_of: datetime, created: str | None = None
) -> dict[Any, dict[str, Any]]:
    """Each entity's row with the greatest (timestamp, created) at or before `as_of`."""
    cutoff = as_of.astimezone(UTC).replace(tzinfo=None)
    best: dict[Any, dict[str, Any]] = {}
    for row in pq.read_table(parquet).to_pylist():
        if row[key] is None or row[timestamp] is None or row[timestamp] > cutoff:
            continue
        rank = (row[timestamp], row[created] if created else None)
        current = best.get(row[key])
        if current is None or rank > (current[timestamp], current[created] if created else None):
            best[row[key]] = row
    return best
