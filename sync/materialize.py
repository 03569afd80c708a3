"""One sync run: registry -> checks -> changed rows per view -> Redis -> publish -> cleanup.

Everything that can refuse the run (the manifest, the definitions, the Parquet
files, Redis' eviction policy, the views' latest dbt tests in sync/quality_gate.py)
is checked before the first write, so a bad definition never leaves Redis
half-synced. Then, in this order, so readers never lose a feature the registry
still lists:

1. per view, write the rows that changed since the last sync (all rows in a
   full sync, which also clears entities Redis has but the view no longer does);
2. publish the registry, view reports and a new generation token in one MULTI;
3. delete the fields of features and views the registry no longer has;
4. record what was written (the base of the next diff).

A sync killed anywhere converges when run again: a view whose sync did not
complete is rewritten in full, and a Redis whose generation token differs from
the record (flushed, restarted empty or from an older snapshot, a new server)
gets a full sync of every view.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import redis

from feature_store.clock import parse_timestamp
from feature_store.errors import FeatureStoreError, RedisUnavailable
from feature_store.monitoring.profile import ViewMonitoring
from feature_store.offline import connection as duckdb_connection
from feature_store.offline import history as offline
from feature_store.offline import history_layout
from feature_store.offline.group_keys import drop_group_keys, existing_key_file, keep_group_keys
from feature_store.offline.schema import check_offline
from feature_store.online.client import check_memory_policy
from feature_store.online.keys import timestamp_field
from feature_store.online.text import format_timestamp
from feature_store.online.writes.writer import OnlineWriter, ViewWriteResult, read_sync_reports
from feature_store.registry.manifest import load_registry
from feature_store.registry.model import Entity, FeatureView, Registry
from sync import quality_gate
from sync.changes import FINGERPRINT_FORMAT, needs_compaction
from sync.monitoring import MonitoringFolder, profile_view
from sync.progress import Progress
from sync.push_history import with_pushed_rows
from sync.record import Fingerprints, RecordFolder, SyncRecord, ViewRecord
from sync.view_sync import ShareJob, sync_share
from sync.workers import WorkerPool


@dataclass
class ViewSummary:
    view: str
    mode: str
    history_rows: int
    entities: int
    recomputed: int
    written: int
    deleted: int
    seconds: float
    source_digest: str = ""
    row_groups: list[list] = field(default_factory=list)
    narrowed_to: str = ""  # where the rows read were, when not every row was read
    monitoring: ViewMonitoring | None = None  # the view's kept profiles, this sync's included

    def line(self) -> str:
        if self.mode == "unchanged":
            return (f"{self.view}: unchanged since the last sync (same history, no row newly reached by the "
                    f"clock), {self.entities:,} entities, 0 written in {self.seconds:.2f}s")
        rows = (f"{self.history_rows:,} history rows ({self.narrowed_to})" if self.narrowed_to
                else f"{self.history_rows:,} history rows read")
        return (f"{self.view}: {self.mode} sync, {rows}, {self.entities:,} "
                f"entities ({self.recomputed:,} recomputed), {self.written:,} written, {self.deleted:,} deleted "
                f"in {self.seconds:.2f}s{self._statistics()}")

    def _statistics(self) -> str:
        latest = self.monitoring.latest if self.monitoring else None
        return f" (statistics {latest.statistics_seconds:.2f}s of it)" if latest else ""

    def warnings(self) -> list[str]:
        """What the view's monitoring found crossing a threshold in this sync, one line each."""
        latest = self.monitoring.latest if self.monitoring else None
        if latest is None:
            return []
        found = [f"{self.view}: schema change: {change.describe()}" for change in latest.schema_changes]
        for drift in latest.drift:
            if drift.crossed:
                score = f"PSI {drift.psi:.3f}" if drift.psi is not None else "PSI -"
                found.append(f"{self.view}.{drift.feature}: {drift.verdict} against {latest.reference} ({score}, "
                             f"null rate {drift.null_rate:.1%} vs {drift.reference_null_rate or 0:.1%})")
        return found


@dataclass
class SyncReport:
    registry: Registry
    summaries: list[ViewSummary] = field(default_factory=list)
    skipped: tuple[str, ...] = ()
    version: str | None = None
    full_reason: str | None = None
    cleaned_fields: int = 0


def due_views(
    views: tuple[FeatureView, ...], reports: dict[str, dict[str, str]], now: datetime
) -> tuple[FeatureView, ...]:
    """Views never synced, or whose last sync is at least their freshness ago."""
    due = []
    for view in views:
        last = reports.get(view.name, {}).get("last_sync_at")
        if not last or now - parse_timestamp(last) >= view.freshness:
            due.append(view)
    return tuple(due)


def run_sync(
    project_dir: Path,
    client: redis.Redis,
    as_of: datetime,
    redis_url: str,
    prefix: str = "",
    select: str | None = None,
    only_due: bool = False,
    full: bool = False,
    manifest_path: Path | None = None,
    say: Callable[[str], None] = print,
    registry: Registry | None = None,
    force: bool = False,
    workers: int = 1,
) -> SyncReport:
    registry = registry or load_registry(project_dir, manifest_path)
    views = registry.select(select)
    try:
        check_memory_policy(client)
        writer = OnlineWriter(client, prefix)
        folder = RecordFolder(project_dir, redis_url, prefix)
        record = folder.load()
        report = SyncReport(registry)
        redis_generation = writer.generation()
        published = writer.published_registry()
        redis_has_features = bool(redis_generation) or published is not None
        report.full_reason = _full_sync_reason(record, redis_generation, full)
        redis_lost = bool(record.generation) and redis_generation != record.generation
        if report.full_reason and report.full_reason != "--full":
            views = registry.views  # Redis may be wrong for every view, selected or not
        elif only_due:
            due = due_views(views, read_sync_reports(client, prefix, (v.name for v in views)), as_of)
            report.skipped = tuple(v.name for v in views if v not in due)
            views = due
        check_offline(registry, views)
        quality_gate.check(project_dir, views, manifest_path, force=force, say=say)
        connection = duckdb_connection.connect()
        views = with_pushed_rows(connection, registry, views, folder.folder, say)
        schemas = check_offline(registry, views)
        if report.full_reason:
            say(f"full sync: {report.full_reason}")
        if not views:
            say(f"nothing due at {as_of.isoformat()}: every selected view was synced within its freshness")
            return report
        previous_views = _previous_views(record, published)
        results: list[ViewWriteResult] = []
        rows: dict[str, int] = {}
        monitoring_folder = MonitoringFolder(folder)
        pool = WorkerPool(workers, redis_url, prefix, writer.pipeline_rows) if workers > 1 else None
        try:
            for view in views:
                summary, result, rows[view.name] = _sync_view(
                    view, registry, schemas[view.name], record, folder, writer, connection, as_of,
                    redis_lost=redis_lost, force_full=report.full_reason is not None,
                    redis_has_features=redis_has_features, pool=pool, monitoring=monitoring_folder,
                )
                results.append(result)
                report.summaries.append(summary)
                say(summary.line())
        finally:
            if pool is not None:
                pool.close()
        generation = uuid.uuid4().hex
        kept = {s.view: s.monitoring for s in report.summaries if s.monitoring is not None}
        report.version = writer.publish(registry, results, as_of, generation, rows,
                                        {name: monitoring.to_json() for name, monitoring in kept.items()})
        report.cleaned_fields = _remove_dropped_fields(registry, previous_views, writer)
        _record(record, folder, registry, views, report, rows, generation, as_of)
        for monitoring in kept.values():
            monitoring_folder.save(monitoring)
        for name in monitoring_folder.views():
            if not registry.has_view(name):
                monitoring_folder.drop(name)
    except duckdb.OutOfMemoryException as error:
        limit = os.environ.get(duckdb_connection.MEMORY_LIMIT_ENV, duckdb_connection.DEFAULT_MEMORY_LIMIT)
        raise FeatureStoreError(
            f"DuckDB ran out of memory reading the offline data ({error}). Raise its limit with "
            f"{duckdb_connection.MEMORY_LIMIT_ENV} (now {limit}); nothing was published, and the next sync converges."
        ) from error
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"Redis failed during the sync ({error}); views written so far are rewritten in full by the next "
            "sync, and readers keep the previous registry. Run the sync again once Redis is reachable."
        ) from error
    say(f"published registry version {report.version}: {len(registry.views)} views, as of {as_of.isoformat()}")
    warnings = [line for summary in report.summaries for line in summary.warnings()]
    if warnings:
        say(f"warning: monitoring found {len(warnings)} threshold(s) crossed (see `python -m sync monitor`):")
        for line in warnings:
            say(f"  {line}")
    return report


def _full_sync_reason(record: SyncRecord, redis_generation: str, full: bool) -> str | None:
    if full:
        return "--full"
    if not record.generation:
        return "no record of an earlier sync to this Redis"
    if redis_generation != record.generation:
        return ("Redis does not hold the data of the last sync (generation token "
                f"{redis_generation or 'missing'}, expected {record.generation}): it was flushed, restarted "
                "empty or from an older snapshot, or is another server")
    return None


def _sync_view(
    view: FeatureView,
    registry: Registry,
    schema,
    record: SyncRecord,
    folder: RecordFolder,
    writer: OnlineWriter,
    connection,
    as_of: datetime,
    redis_lost: bool,
    force_full: bool,
    redis_has_features: bool,
    pool: WorkerPool | None,
    monitoring: MonitoringFolder,
) -> tuple[ViewSummary, ViewWriteResult, int]:
    started = time.perf_counter()
    previous = record.views.get(view.name)
    fingerprints = folder.fingerprints(view.name)
    completed = (previous is not None and previous.complete and previous.fingerprint_format == FINGERPRINT_FORMAT
                 and fingerprints is not None)
    # What Redis holds for this view is known exactly only after a completed sync to this same Redis.
    base = fingerprints if completed and not redis_lost else None
    full = force_full or base is None or previous is None or not previous.same_shape(view)
    # Without a base, only a scan finds entities that must lose this view's fields.
    scan = full and base is None and (redis_lost or previous is not None or redis_has_features)
    # Mark the view in progress first: if this run dies, the next rewrites it in full.
    record.views[view.name] = ViewRecord.for_view(view)
    folder.save(record)

    entity = registry.entity(view.entity)
    layout = history_layout.read_layout(view, entity)  # before reading the rows (see _kept_layout)
    kept_keys = folder.fingerprints_dir(view.name)
    previous_groups = [history_layout.RowGroup.from_json(group) for group in previous.row_groups] if previous else []
    known = {group.digest for group in previous_groups}
    if not full and previous and _unchanged(view, entity, previous, layout.digest, schema, connection, as_of):
        pending = folder.start_pending(view.name, keep_base=base, keep_delta=True)
        recorded = _kept_layout(layout, connection, entity, kept_keys, pending, known)
        kept = _profile(connection, view, pending, previous.rows, monitoring, as_of)
        seconds = time.perf_counter() - started
        summary = ViewSummary(view.name, "unchanged", layout.rows, previous.rows, 0, 0, 0, seconds, *recorded,
                              monitoring=kept)
        return summary, ViewWriteResult(view.name, 0, 0, 0, seconds), previous.rows

    diff_base = None if full else base
    compact = needs_compaction(diff_base)
    change = None
    if not full and previous and previous.last_sync_at:
        change = history_layout.compare(previous_groups, parse_timestamp(previous.last_sync_at), layout, as_of,
                                        lambda digest: existing_key_file(kept_keys, digest))
    job = ShareJob(
        view=view, entity=entity, schema=schema, as_of=as_of, base=base, full=full,
        compact=compact, scan=scan, old_fields=tuple(previous.feature_names() if previous else ()),
        pending=folder.start_pending(view.name, keep_base=None if compact else diff_base), change=change,
    )
    progress = Progress(view.name, None)
    on_staged = progress.set_total if full else (lambda _: None)
    if pool is None:
        results = [sync_share(job, writer, connection, on_progress=progress.advance, on_staged=on_staged)]
    else:
        results = pool.run(job, on_progress=progress.advance, on_staged=on_staged)
    progress.close()
    if all(result.entities is not None for result in results):
        entities = sum(result.entities or 0 for result in results)
    else:
        assert previous is not None, "only an incremental sync leaves counts unknown, and it has a base"
        entities = previous.rows + sum(r.joined for r in results) - sum(r.left for r in results)
    written = sum(result.written for result in results)
    deleted = sum(result.deleted for result in results)
    recorded = _kept_layout(layout, connection, entity, kept_keys, job.pending, known)
    kept = _profile(connection, view, job.pending, entities, monitoring, as_of)
    seconds = time.perf_counter() - started
    result = ViewWriteResult(view.name, written, deleted, sum(r.replaced for r in results), seconds)
    narrowed_to = change.describe() if change and all(r.narrowed for r in results) else ""
    summary = ViewSummary(view.name, "full" if full else "incremental", layout.rows, entities,
                          sum(r.recomputed for r in results), written, deleted, seconds, *recorded,
                          narrowed_to=narrowed_to, monitoring=kept)
    return summary, result, entities


def _profile(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    pending: Path,
    rows: int,
    monitoring: MonitoringFolder,
    as_of: datetime,
) -> ViewMonitoring | None:
    """The view's kept profiles with this sync's, from the next fingerprints (None when there are none)."""
    fingerprints = Fingerprints.read(pending)
    if fingerprints is None:
        return None
    return profile_view(connection, view, fingerprints, rows, monitoring.load(view.name), as_of)


def _kept_layout(
    layout: history_layout.HistoryLayout,
    connection: duckdb.DuckDBPyConnection,
    entity: Entity,
    kept_keys: Path,
    pending: Path,
    known: set[str],
) -> tuple[str, list[list]]:
    """Keep the row groups' keys in `pending` (`known`: digests the last sync recorded); the digest and row
    groups to record.

    Nothing is kept when a file changed since the layout was read: the rows were
    read after it, maybe in the new state, which the layout does not describe.
    Without a record, the next sync reads every row.
    """
    keep_group_keys(connection, entity, layout, kept_keys, pending, known)
    if not layout.unchanged_on_disk():
        drop_group_keys(pending)
        return "", []
    return layout.digest, [group.to_json() for group in layout.groups()]


def _unchanged(
    view: FeatureView,
    entity: Entity,
    previous: ViewRecord,
    digest: str,
    schema: pa.Schema,
    connection: duckdb.DuckDBPyConnection,
    as_of: datetime,
) -> bool:
    """Whether the view's last sync still holds: the same history bytes, and no row the new clock reaches."""
    if previous.source_digest != digest or previous.checksum != view.checksum or not previous.last_sync_at:
        return False
    last = parse_timestamp(previous.last_sync_at)
    return as_of >= last and offline.rows_reached(connection, view, entity, schema, last, as_of) == 0


def _previous_views(record: SyncRecord, published: Registry | None) -> dict[str, tuple[str, list[str]]]:
    """Views (entity, feature names) that earlier syncs may have left in Redis (per the record and the
    registry Redis holds)."""
    views = {name: (spec.entity, spec.feature_names()) for name, spec in record.views.items()}
    if published:
        for view in published.views:
            entity, names = views.get(view.name, (view.entity, []))
            views[view.name] = (entity, list(dict.fromkeys([*names, *view.feature_names])))
    return views


def _remove_dropped_fields(
    registry: Registry, previous: dict[str, tuple[str, list[str]]], writer: OnlineWriter
) -> int:
    """Delete fields of features and views the registry no longer has (after it was published)."""
    dropped: dict[str, set[str]] = {}
    for name, (entity, features) in previous.items():
        if registry.has_view(name) and registry.view(name).entity == entity:
            gone = set(features) - set(registry.view(name).feature_names)
        else:
            gone = {timestamp_field(name), *features}
        # A name still served for the entity (moved to another view) is not deleted.
        gone -= set(registry.features_of(entity))
        if gone:
            dropped.setdefault(entity, set()).update(gone)
    touched = 0
    for entity, fields in dropped.items():
        for keys in writer.scan_entity_keys(entity):
            touched += writer.delete_fields(keys, sorted(fields))
    return touched


def _record(
    record: SyncRecord,
    folder: RecordFolder,
    registry: Registry,
    views: tuple[FeatureView, ...],
    report: SyncReport,
    rows: dict[str, int],
    generation: str,
    as_of: datetime,
) -> None:
    for view, summary in zip(views, report.summaries, strict=True):
        folder.commit_fingerprints(view.name)
        entry = ViewRecord.for_view(view, FINGERPRINT_FORMAT)
        entry.complete = True
        entry.last_sync_at = format_timestamp(as_of)
        entry.rows = rows[view.name]
        entry.changed = summary.written + summary.deleted
        entry.source_digest = summary.source_digest
        entry.row_groups = summary.row_groups
        record.views[view.name] = entry
    for name in list(record.views):
        if not registry.has_view(name):
            del record.views[name]
            folder.drop_fingerprints(name)
    record.generation = generation
    folder.save(record)
