"""One sync run: registry -> checks -> latest rows per view -> Redis -> publish.

Everything that can refuse the run (the manifest, the definitions, the Parquet
files, Redis' eviction policy) is checked before the first write, so a bad
definition never leaves Redis half-synced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from sync import offline
from sync.clock import parse_timestamp
from sync.errors import RedisUnavailable
from sync.online import OnlineWriter, ViewWriteResult, read_view_states
from sync.redis_client import check_memory_policy
from sync.registry import FeatureView, Registry, load_registry


@dataclass(frozen=True)
class SyncReport:
    registry: Registry
    results: tuple[ViewWriteResult, ...]
    skipped: tuple[str, ...]
    version: int | None


def due_views(
    views: tuple[FeatureView, ...], states: dict[str, dict[str, str]], now: datetime
) -> tuple[FeatureView, ...]:
    """Views never synced, or whose last sync is at least their freshness ago."""
    due = []
    for view in views:
        last = states.get(view.name, {}).get("last_sync_at")
        if not last or now - parse_timestamp(last) >= view.freshness:
            due.append(view)
    return tuple(due)


def run_sync(
    project_dir: Path,
    client: redis.Redis,
    as_of: datetime,
    prefix: str = "",
    select: str | None = None,
    only_due: bool = False,
    manifest_path: Path | None = None,
    say: Callable[[str], None] = print,
) -> SyncReport:
    registry = load_registry(project_dir, manifest_path)
    views = registry.select(select)
    schemas = offline.check_offline(registry, views)
    try:
        check_memory_policy(client)
        skipped: tuple[str, ...] = ()
        if only_due:
            states = read_view_states(client, prefix, (v.name for v in views))
            due = due_views(views, states, as_of)
            skipped = tuple(v.name for v in views if v not in due)
            views = due
        if not views:
            say(f"nothing due at {as_of.isoformat()}: every selected view was synced within its freshness")
            return SyncReport(registry, (), skipped, None)
        connection = offline.connect()
        writer = OnlineWriter(client, prefix)
        results = []
        for view in views:
            reader = offline.read_latest(
                connection, view, registry.entity(view.entity), schemas[view.name], as_of
            )
            result = writer.write_view(view, reader)
            results.append(result)
            say(
                f"{view.name}: {offline.history_rows(view):,} history rows, {result.entities:,} entities "
                f"written ({result.with_nulls:,} with null features) in {result.seconds:.2f}s"
            )
        version = writer.publish(registry, results, as_of)
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"Redis failed during the sync ({error}); the registry was not published, so readers keep "
            "the previous one. Run the sync again once Redis is reachable."
        ) from error
    say(f"published registry version {version}: {len(registry.views)} views, as of {as_of.isoformat()}")
    return SyncReport(registry, tuple(results), skipped, version)
