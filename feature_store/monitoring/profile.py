"""What a sync found about a view's features, kept per sync and published to Redis as JSON.

A `SyncProfile` describes the whole population of latest rows after one sync: per
feature its `FeatureStats`, its drift against the view's reference, and the
schema changes since the sync before. `ViewMonitoring` is a view's bounded
history of profiles (newest last) and, when the reference is the baseline, the
profile that is the baseline.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

NUMBER_DTYPES = ("int64", "float64")
# Quantiles reported for numbers; the deciles among them are also the edges of the histogram's bins.
QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99)
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TOP_VALUES = 10
KEPT_SYNCS = 30
OK = "ok"
NO_REFERENCE = "no reference"
DRIFT = "drift"
NULL_RATE = "null rate"


def kind_of(dtype: str) -> str:
    """How a dtype is described: `number`, `string`, `bool`, or `other` (timestamps, lists: counts only)."""
    if dtype in NUMBER_DTYPES:
        return "number"
    if dtype in ("string", "bool"):
        return dtype
    return "other"


@dataclass(frozen=True)
class Histogram:
    """Counts of non-null values in fixed bins.

    Numbers: `edges` e1 < ... < ek make k+1 bins, value <= e1, e1 < value <= e2, ...,
    value > ek. Strings and booleans: one bin per category, then one for every
    other value.
    """

    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts)

    def shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(count / total for count in self.counts) if total else tuple(0.0 for _ in self.counts)

    def labels(self) -> tuple[str, ...]:
        if self.categories:
            return (*self.categories, "other")
        if not self.edges:
            return ("all",)
        edges = [f"{edge:.4g}" for edge in self.edges]
        return (f"≤{edges[0]}", *(f"{a}–{b}" for a, b in itertools.pairwise(edges)), f">{edges[-1]}")

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"counts": list(self.counts)}
        if self.categories:
            spec["categories"] = list(self.categories)
        else:
            spec["edges"] = list(self.edges)
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Histogram:
        return cls(tuple(int(c) for c in spec["counts"]), tuple(float(e) for e in spec.get("edges", ())),
                   tuple(str(c) for c in spec.get("categories", ())))


@dataclass(frozen=True)
class FeatureStats:
    """One feature over the latest row of every entity of its view."""

    name: str
    dtype: str
    count: int  # entities (rows), nulls included
    nulls: int
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    stddev: float | None = None  # population standard deviation
    quantiles: tuple[tuple[float, float], ...] = ()  # (probability, value)
    quantile_accuracy: float = 0.0  # the quantiles' relative accuracy: 0 when exact (see offline.statistics)
    distinct: int | None = None
    top: tuple[tuple[str, float], ...] = ()  # (value, share of the non-null values), most frequent first
    true_rate: float | None = None  # of the non-null values
    histogram: Histogram | None = None  # on its own bins (deciles, or its top values)
    on_reference: Histogram | None = None  # on the reference's bins, when there is a reference

    @property
    def null_rate(self) -> float:
        return self.nulls / self.count if self.count else 0.0

    @property
    def kind(self) -> str:
        return kind_of(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "count": self.count, "nulls": self.nulls,
                                "null_rate": self.null_rate}
        for key in ("minimum", "maximum", "mean", "stddev", "distinct", "true_rate"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        if self.quantiles:
            spec["quantiles"] = [list(pair) for pair in self.quantiles]
            spec["quantile_accuracy"] = self.quantile_accuracy
        if self.top:
            spec["top"] = [list(pair) for pair in self.top]
        if self.histogram is not None:
            spec["histogram"] = self.histogram.to_dict()
        if self.on_reference is not None:
            spec["on_reference"] = self.on_reference.to_dict()
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> FeatureStats:
        return cls(
            name=spec["name"], dtype=spec["dtype"], count=int(spec["count"]), nulls=int(spec["nulls"]),
            minimum=spec.get("minimum"), maximum=spec.get("maximum"), mean=spec.get("mean"),
            stddev=spec.get("stddev"), distinct=spec.get("distinct"), true_rate=spec.get("true_rate"),
            quantiles=tuple((float(p), float(v)) for p, v in spec.get("quantiles", ())),
            quantile_accuracy=float(spec.get("quantile_accuracy", 0.0)),
            top=tuple((str(v), float(s)) for v, s in spec.get("top", ())),
            histogram=Histogram.from_dict(spec["histogram"]) if spec.get("histogram") else None,
            on_reference=Histogram.from_dict(spec["on_reference"]) if spec.get("on_reference") else None,
        )


@dataclass(frozen=True)
class FeatureDrift:
    """A feature now against the reference: PSI (None when not comparable), null rates, and the verdict."""

    feature: str
    null_rate: float
    reference_null_rate: float | None
    psi: float | None
    verdict: str  # ok, no reference, or the thresholds crossed ("drift", "null rate", "drift, null rate")
    reference_histogram: Histogram | None = None  # the reference on its own bins (what PSI compared with)

    @property
    def crossed(self) -> bool:
        return self.verdict not in (OK, NO_REFERENCE)

    def to_dict(self) -> dict[str, Any]:
        spec = {"feature": self.feature, "null_rate": self.null_rate, "reference_null_rate": self.reference_null_rate,
                "psi": self.psi, "verdict": self.verdict}
        if self.reference_histogram is not None:
            spec["reference_histogram"] = self.reference_histogram.to_dict()
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> FeatureDrift:
        histogram = spec.get("reference_histogram")
        return cls(spec["feature"], float(spec["null_rate"]), spec.get("reference_null_rate"), spec.get("psi"),
                   spec["verdict"], Histogram.from_dict(histogram) if histogram else None)


@dataclass(frozen=True)
class SchemaChange:
    """A feature added, removed or retyped since the sync before."""

    feature: str
    change: str  # added, removed, retyped
    before: str = ""  # dtype before (removed, retyped)
    after: str = ""  # dtype now (added, retyped)

    def describe(self) -> str:
        if self.change == "retyped":
            return f"{self.feature} retyped {self.before} -> {self.after}"
        return f"{self.feature} {self.change} ({self.after or self.before})"

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "change": self.change, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SchemaChange:
        return cls(spec["feature"], spec["change"], spec.get("before", ""), spec.get("after", ""))


@dataclass(frozen=True)
class SyncProfile:
    """A view after one sync: its features' statistics, drift and schema changes."""

    view: str
    synced_at: str  # ISO 8601 UTC
    rows: int
    freshness_seconds: float  # the view's target
    interval_seconds: float | None  # since the sync before (None for the first kept): how stale the view got
    features: tuple[FeatureStats, ...]
    reference: str = ""  # e.g. model:recommender_training_set, sync:previous
    reference_synced_at: str = ""  # when the reference is a sync: which
    drift_threshold: float = 0.0
    null_rate_threshold: float = 0.0
    drift: tuple[FeatureDrift, ...] = ()
    schema_changes: tuple[SchemaChange, ...] = ()
    statistics_seconds: float = 0.0

    @property
    def schema(self) -> dict[str, str]:
        return {stats.name: stats.dtype for stats in self.features}

    def stats(self, feature: str) -> FeatureStats | None:
        return next((stats for stats in self.features if stats.name == feature), None)

    def drift_of(self, feature: str) -> FeatureDrift | None:
        return next((drift for drift in self.drift if drift.feature == feature), None)

    @property
    def crossed(self) -> bool:
        """Whether a threshold was crossed or the schema changed."""
        return bool(self.schema_changes) or any(drift.crossed for drift in self.drift)

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view, "synced_at": self.synced_at, "rows": self.rows,
            "freshness_seconds": self.freshness_seconds, "interval_seconds": self.interval_seconds,
            "features": [stats.to_dict() for stats in self.features], "reference": self.reference,
            "reference_synced_at": self.reference_synced_at, "drift_threshold": self.drift_threshold,
            "null_rate_threshold": self.null_rate_threshold, "drift": [drift.to_dict() for drift in self.drift],
            "schema_changes": [change.to_dict() for change in self.schema_changes],
            "statistics_seconds": self.statistics_seconds,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SyncProfile:
        return cls(
            view=spec["view"], synced_at=spec["synced_at"], rows=int(spec["rows"]),
            freshness_seconds=float(spec["freshness_seconds"]), interval_seconds=spec.get("interval_seconds"),
            features=tuple(FeatureStats.from_dict(f) for f in spec["features"]),
            reference=spec.get("reference", ""), reference_synced_at=spec.get("reference_synced_at", ""),
            drift_threshold=float(spec.get("drift_threshold", 0.0)),
            null_rate_threshold=float(spec.get("null_rate_threshold", 0.0)),
            drift=tuple(FeatureDrift.from_dict(d) for d in spec.get("drift", ())),
            schema_changes=tuple(SchemaChange.from_dict(c) for c in spec.get("schema_changes", ())),
            statistics_seconds=float(spec.get("statistics_seconds", 0.0)),
        )


@dataclass(frozen=True)
class ViewMonitoring:
    """A view's kept profiles (at most `KEPT_SYNCS`, newest last) and its baseline, when it has one."""

    view: str
    syncs: tuple[SyncProfile, ...] = ()
    baseline: SyncProfile | None = None

    @property
    def latest(self) -> SyncProfile | None:
        return self.syncs[-1] if self.syncs else None

    def with_sync(self, profile: SyncProfile, baseline: SyncProfile | None) -> ViewMonitoring:
        return ViewMonitoring(self.view, (*self.syncs, profile)[-KEPT_SYNCS:], baseline)

    def to_json(self) -> str:
        return json.dumps({"view": self.view, "syncs": [p.to_dict() for p in self.syncs],
                           "baseline": self.baseline.to_dict() if self.baseline else None}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ViewMonitoring:
        data = json.loads(text)
        return cls(data["view"], tuple(SyncProfile.from_dict(p) for p in data.get("syncs", ())),
                   SyncProfile.from_dict(data["baseline"]) if data.get("baseline") else None)
