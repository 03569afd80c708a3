"""Gauges of the data for /metrics: per feature its null rate and drift, per view how late it is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from feature_store.monitoring.profile import ViewMonitoring
from feature_store.registry.model import Registry


def monitoring_families(
    registry: Registry, kept: Mapping[str, ViewMonitoring], last_syncs: Mapping[str, datetime | None], now: datetime
) -> list[Metric]:
    null_rate = GaugeMetricFamily(
        "feature_api_feature_null_rate", "Share of entities whose latest row has no value, as of the last sync.",
        labels=["view", "feature"])
    drift = GaugeMetricFamily(
        "feature_api_feature_drift_psi",
        "Population stability index of the feature at the last sync against its view's reference.",
        labels=["view", "feature"])
    crossed = GaugeMetricFamily(
        "feature_api_feature_threshold_crossed",
        "1 when the feature crossed its view's drift or null rate threshold at the last sync, else 0.",
        labels=["view", "feature"])
    threshold = GaugeMetricFamily(
        "feature_api_view_drift_threshold", "The PSI at or above which a feature of the view has drifted.",
        labels=["view"])
    schema = GaugeMetricFamily(
        "feature_api_view_schema_changes", "Features added, removed or retyped at the view's last sync.",
        labels=["view"])
    target = GaugeMetricFamily(
        "feature_api_view_freshness_target_seconds", "The view's freshness: its sync cadence and maximum lag.",
        labels=["view"])
    lag = GaugeMetricFamily(
        "feature_api_view_lag_seconds",
        "Seconds the view's last successful sync is past its freshness target, judged at scrape time "
        "(0 while fresh; absent: never synced).",
        labels=["view"])
    for view in registry.views:
        target.add_metric([view.name], view.freshness.total_seconds())
        synced = last_syncs.get(view.name)
        if synced is not None:
            lag.add_metric([view.name], max(0.0, (now - synced - view.freshness).total_seconds()))
        monitoring = kept.get(view.name)
        latest = monitoring.latest if monitoring else None
        if latest is None:
            continue
        threshold.add_metric([view.name], latest.drift_threshold)
        schema.add_metric([view.name], len(latest.schema_changes))
        for judged in latest.drift:
            null_rate.add_metric([view.name, judged.feature], judged.null_rate)
            crossed.add_metric([view.name, judged.feature], 1.0 if judged.crossed else 0.0)
            if judged.psi is not None:
                drift.add_metric([view.name, judged.feature], judged.psi)
    return [null_rate, drift, crossed, threshold, schema, target, lag]
