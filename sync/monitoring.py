"""Each synced view's statistics, drift and schema changes, kept with the sync's record.

After a view's shares have written its next fingerprints (which keep every
entity's latest feature values), the whole population of latest rows is
described from the summary kept beside the fingerprints' base and the delta
since (`sync.population_statistics`), whatever part of it this sync recomputed.
The reference it is compared with is the view's `monitor.reference`: a
training set model (its Parquet, described the same way), the previous sync,
or the baseline (the first sync kept). The profiles of the last `KEPT_SYNCS`
syncs are kept per view in `monitoring/<view>.json` in the record folder, and
published to Redis with the registry.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from feature_store.clock import parse_timestamp
from feature_store.monitoring.drift import judge, schema_changes
from feature_store.monitoring.profile import FeatureStats, SyncProfile, ViewMonitoring
from feature_store.offline.statistics import columns_of, feature_statistics
from feature_store.online.text import format_timestamp
from feature_store.registry.model import FeatureView
from feature_store.sql import literal
from sync.population_statistics import population_statistics
from sync.record import Fingerprints, RecordFolder


class MonitoringFolder:
    """The kept profiles of every view of one Redis target (beside its record)."""

    def __init__(self, record: RecordFolder) -> None:
        self.folder = record.folder / "monitoring"

    def path(self, view: str) -> Path:
        return self.folder / f"{view}.json"

    def load(self, view: str) -> ViewMonitoring:
        try:
            return ViewMonitoring.from_json(self.path(view).read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return ViewMonitoring(view)

    def save(self, monitoring: ViewMonitoring) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(monitoring.view)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(monitoring.to_json())
        os.replace(temporary, path)

    def drop(self, view: str) -> None:
        self.path(view).unlink(missing_ok=True)

    def views(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.json"))


def profile_view(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    fingerprints: Fingerprints,
    rows: int,
    kept: ViewMonitoring,
    as_of: datetime,
) -> ViewMonitoring:
    """`kept` with this sync's profile of `view` added (the population: the latest values in `fingerprints`)."""
    started = time.perf_counter()
    reference, reference_at = _reference(connection, view, kept)
    features = population_statistics(connection, view, fingerprints, reference)
    monitoring = view.monitoring
    drift = tuple(judge(stats, reference.get(stats.name), monitoring.drift_threshold,
                        monitoring.null_rate_threshold) for stats in features)
    previous = kept.latest
    interval = (as_of - parse_timestamp(previous.synced_at)).total_seconds() if previous else None
    profile = SyncProfile(
        view=view.name, synced_at=format_timestamp(as_of), rows=rows,
        freshness_seconds=view.freshness.total_seconds(), interval_seconds=interval, features=features,
        reference=monitoring.reference, reference_synced_at=reference_at,
        drift_threshold=monitoring.drift_threshold, null_rate_threshold=monitoring.null_rate_threshold,
        drift=drift, schema_changes=schema_changes(previous.schema if previous else None,
                                                   {f.name: f.dtype for f in view.features}),
    )
    profile = replace(profile, statistics_seconds=time.perf_counter() - started)
    baseline = kept.baseline
    if monitoring.reference == "sync:baseline" and baseline is None:
        baseline = profile
    return kept.with_sync(profile, baseline)


def _reference(
    connection: duckdb.DuckDBPyConnection, view: FeatureView, kept: ViewMonitoring
) -> tuple[dict[str, FeatureStats], str]:
    """The reference's statistics per feature, and when it was synced (empty for a model)."""
    monitoring = view.monitoring
    if monitoring.reference_kind == "model":
        location = monitoring.reference_location
        if not Path(location).exists():
            return {}, ""  # not built yet: every feature is judged "no reference" until `dbt build`
        relation = f"select * from read_parquet({literal(location)})"
        present = columns_of(connection, relation)
        features = [feature for feature in view.features if feature.name in present]
        return {stats.name: stats for stats in feature_statistics(connection, relation, features)}, ""
    profile = kept.baseline if monitoring.reference_name == "baseline" else kept.latest
    if profile is None:
        return {}, ""
    return {stats.name: stats for stats in profile.features}, profile.synced_at
