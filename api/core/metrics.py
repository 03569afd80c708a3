"""Prometheus metrics: what the API counts while it serves, and the text `/metrics` answers.

With several workers (`python -m api --workers N`) each worker is its own
process, so the metrics live in Prometheus' multiprocess mode: the values are
kept in files under `PROMETHEUS_MULTIPROC_DIR` (set by `python -m api` before
any worker imports prometheus_client) and summed, or maxed, at scrape time.

The hot path touches these through cached label children and plain dicts, so a
request costs a few increments, never a label lookup or a lock it can avoid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"  # the endpoint label of a request no route took (a 404), so paths never become labels

# Sub-millisecond to seconds: a lookup takes about a millisecond, a Redis timeout a second.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "feature_api_requests_total",
    "HTTP requests answered, by endpoint (route template), method and status code.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "feature_api_request_duration_seconds",
    "Time from the request's arrival in the app to its last response byte, by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
REDIS_ERRORS = Counter(
    "feature_api_redis_errors_total",
    "Round trips to Redis that failed, by kind (timeout, connection, command).",
    ["kind"],
    registry=REGISTRY,
)
NOT_FOUND = Counter(
    "feature_api_entities_not_found_total",
    "Entity ids asked for that the online store has no hash for, by entity.",
    ["entity"],
    registry=REGISTRY,
)
NEWEST_SERVED_NAME = "feature_api_view_newest_served_event_timestamp_seconds"
NEWEST_SERVED = Gauge(
    NEWEST_SERVED_NAME,
    "Event time (Unix seconds) of the newest row a view served since the API started (expired rows excluded).",
    ["view"],
    multiprocess_mode="max",
    registry=REGISTRY,
)

_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_newest: dict[str, datetime] = {}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    key = (endpoint, method, status)
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(endpoint, method, str(status)), LATENCY.labels(endpoint))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def redis_error(kind: str) -> None:
    REDIS_ERRORS.labels(kind).inc()


def entities_not_found(entity: str, count: int = 1) -> None:
    if count:
        NOT_FOUND.labels(entity).inc(count)


def newest_served() -> dict[str, datetime]:
    """This process's newest served event time per view; the read path compares against it in place."""
    return _newest


def served(view: str, event_ts: datetime) -> None:
    """A row of `view` dated `event_ts` was served and is newer than any before it in this process."""
    _newest[view] = event_ts
    NEWEST_SERVED.labels(view).set(event_ts.timestamp())


def forget_served() -> None:
    """Start the newest-served record afresh (a test's clean slate; the API never needs it)."""
    _newest.clear()
    NEWEST_SERVED.clear()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(
    last_syncs: Mapping[str, datetime | None] | None, now: datetime, extra: Iterable[Metric] = ()
) -> bytes:
    """The metrics as Prometheus text, plus ages judged now: each view's last sync (from the
    registry, `last_syncs`; None when Redis could not say) and its newest served row; and `extra`
    families (the data's gauges, api.monitoring.gauges)."""
    families = list(_base_families())
    newest: dict[str, float] = {}
    for family in families:
        if family.name == NEWEST_SERVED_NAME:
            newest = {sample.labels["view"]: sample.value for sample in family.samples}
    families.extend(_age_families(last_syncs, newest, now))
    families.extend(extra)
    return generate_latest(_Families(families))


def _base_families() -> Iterable[Metric]:
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY.collect()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry.collect()


def _age_families(
    last_syncs: Mapping[str, datetime | None] | None, newest: Mapping[str, float], now: datetime
) -> list[Metric]:
    sync_age = GaugeMetricFamily(
        "feature_api_view_last_sync_age_seconds",
        "Seconds since each view's last successful sync, judged at scrape time (absent: never synced).",
        labels=["view"],
    )
    served_age = GaugeMetricFamily(
        "feature_api_view_newest_served_age_seconds",
        "Seconds since the event time of the newest row each view served, judged at scrape time.",
        labels=["view"],
    )
    views = set(last_syncs) if last_syncs is not None else set(newest)
    for view in sorted(views):
        synced = last_syncs.get(view) if last_syncs is not None else None
        if synced is not None:
            sync_age.add_metric([view], (now - synced).total_seconds())
        if view in newest:
            served_age.add_metric([view], now.timestamp() - newest[view])
    return [sync_age, served_age]


class _Families:
    """Already collected metric families, in the shape `generate_latest` reads."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families
