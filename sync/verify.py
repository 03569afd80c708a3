"""Online-vs-offline comparison: the training-serving skew check.

For every entity of every view (or a sample), the fields in Redis must equal the
offline latest row at the sync's clock: the same event timestamp, the same text
for every feature, and no field where the offline value is null. Entities in
Redis that the offline data no longer has are reported as extra.

A push-fed view is compared against its build together with its push log (the rows pushed since the
build are served already), at the later of its last sync's clock and now: pushes keep it current.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis

from feature_store.clock import now, parse_timestamp
from feature_store.offline import connection as duckdb_connection
from feature_store.offline import history as offline
from feature_store.offline.schema import check_offline
from feature_store.online.keys import timestamp_field
from feature_store.online.writes.writer import read_sync_reports
from feature_store.registry.model import FeatureView, Registry
from feature_store.sql import ID_COLUMN, TS_COLUMN
from sync.push_history import with_pushed_rows

CHUNK = 2_000
EXAMPLES = 5


@dataclass
class ViewVerification:
    view: str
    checked: int = 0
    mismatched: int = 0
    missing: int = 0
    extra: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.extra)

    def note(self, text: str) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)


def verify(
    registry: Registry,
    client: redis.Redis,
    prefix: str = "",
    as_of: datetime | None = None,
    sample: int | None = None,
    views: tuple[FeatureView, ...] | None = None,
) -> list[ViewVerification]:
    """Compare each view; `as_of` defaults to the clock each view was last synced at."""
    chosen = views or registry.views
    sync_reports = read_sync_reports(client, prefix, (v.name for v in chosen))
    check_offline(registry, chosen)
    connection = duckdb_connection.connect()
    scratch = tempfile.TemporaryDirectory(prefix="verify-pushes-")
    chosen = with_pushed_rows(connection, registry, chosen, Path(scratch.name), say=lambda _: None, compact=False)
    schemas = check_offline(registry, chosen)
    reports: list[ViewVerification] = []
    for view in chosen:
        report = ViewVerification(view.name)
        reports.append(report)
        clock = as_of or _synced_at(sync_reports.get(view.name, {}))
        if clock is not None and as_of is None and view.takes_pushes:
            clock = max(clock, now())
        if clock is None:
            report.note("never synced: run `python -m sync`")
            report.missing = 1
            continue
        table = offline.read_latest(
            connection, view, registry.entity(view.entity), schemas[view.name], clock
        ).read_all()
        expected = table.to_pylist()
        offline_ids = set(table.column(ID_COLUMN).to_pylist())
        if sample is not None and sample < len(expected):
            expected = random.Random(0).sample(expected, sample)
        _compare(client, prefix, view, expected, report)
        if sample is None:
            _find_extra(client, prefix, view, offline_ids, report)
    scratch.cleanup()
    return reports


def _synced_at(report: dict[str, str]) -> datetime | None:
    text = report.get("as_of") or report.get("last_sync_at")
    return parse_timestamp(text) if text else None


def _compare(
    client: redis.Redis, prefix: str, view: FeatureView, expected: list[dict], report: ViewVerification
) -> None:
    fields = [timestamp_field(view.name), *view.feature_names]
    for start in range(0, len(expected), CHUNK):
        rows = expected[start:start + CHUNK]
        pipe = client.pipeline(transaction=False)
        for row in rows:
            pipe.hmget(f"{prefix}{view.entity}:{row[ID_COLUMN]}", fields)
        for row, online in zip(rows, pipe.execute(), strict=True):
            report.checked += 1
            online = [value.decode() if isinstance(value, bytes) else value for value in online]
            if online[0] is None:
                report.missing += 1
                report.note(f"{view.entity} {row[ID_COLUMN]}: missing online")
                continue
            wanted = [row[TS_COLUMN], *(row[name] for name in view.feature_names)]
            if online != wanted:
                report.mismatched += 1
                diffs = [f"{name}: online={got!r} offline={want!r}"
                         for name, got, want in zip(fields, online, wanted, strict=True) if got != want]
                report.note(f"{view.entity} {row[ID_COLUMN]}: " + "; ".join(diffs))


def _find_extra(
    client: redis.Redis, prefix: str, view: FeatureView, offline_ids: set[str], report: ViewVerification
) -> None:
    """Entities whose hash still carries this view's fields though the offline data has no row."""
    key_prefix = f"{prefix}{view.entity}:"
    ts_field = timestamp_field(view.name)
    candidates = []
    for key in client.scan_iter(match=f"{_escape_glob(key_prefix)}*", count=1000):
        key = key.decode() if isinstance(key, bytes) else key
        entity_id = key[len(key_prefix):]
        if entity_id not in offline_ids:
            candidates.append((entity_id, key))
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        pipe = client.pipeline(transaction=False)
        for _, key in chunk:
            pipe.hexists(key, ts_field)
        for (entity_id, _), has_view in zip(chunk, pipe.execute(), strict=True):
            if has_view:
                report.extra += 1
                report.note(f"{view.entity} {entity_id}: online but not offline")


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
