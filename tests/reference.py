"""An independent reference for tests: the latest offline row per entity, in plain Python.

Deliberately not the sync's SQL: it reads the Parquet file with pyarrow and
picks rows in Python, so a bug in the sync's query cannot hide in both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import redis

from feature_store.online.text import encode
from feature_store.registry.manifest import load_registry


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


def assert_redis_holds_latest(project: Path, view_name: str, client: redis.Redis, as_of: datetime) -> None:
    """Every entity's fields of the view in Redis are its reference latest row; no other entity holds them.

    `client` decodes responses; the view's entity keys are `user:{id}`.
    """
    view = load_registry(project).view(view_name)
    parquet = project / "data" / "features" / f"{view_name}.parquet"
    expected = latest_rows(parquet, "user_id", view.timestamp, as_of, view.created_timestamp)
    pipe = client.pipeline(transaction=False)
    for user in expected:
        pipe.hgetall(f"user:{user}")
    for user, stored in zip(expected, pipe.execute(), strict=True):
        row = expected[user]
        want = {f.name: encode(row[f.name], f.dtype) for f in view.features if row[f.name] is not None}
        got = {name: stored[name] for name in view.feature_names if name in stored}
        assert got == want, f"user {user}"
    holding = set()
    for key in client.scan_iter(match="user:*", count=5_000):
        if client.hexists(key, f"_ts:{view_name}"):
            holding.add(int(key.split(":", 1)[1]))
    assert holding == set(expected), "entities that left the view still hold its fields, or some are missing"
