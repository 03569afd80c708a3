"""Statistics of features over a set of rows, from a summary that adds and subtracts.

A `Summary` of rows holds, per feature, what can be merged exactly: the row
count, the non-null count, the mean and sum of squared deviations (numbers,
merged with Chan's formulas), and counts per key in a DuckDB relation. The key
is the value itself for strings and booleans, and for a number with at most
`EXACT_VALUES` distinct values where its summary was first taken; any other
number is counted in logarithmic buckets of relative width `RELATIVE_ACCURACY`
(`bucket_sql`), whose edges do not depend on the data. The summary of a
population after a change is then the old one minus the rows that left plus
those that arrived, at a cost that follows the change and the number of keys,
not the population.

Everything else is derived from a summary (`describe`): distinct count, most
frequent values, true rate, and quantiles (exact, with `quantile_cont`'s
interpolation, from per-value counts; within `RELATIVE_ACCURACY` of the exact
value from buckets), the histogram on the feature's own deciles and the counts
on a reference's bins. Minimum and maximum are not mergeable by subtraction;
the caller gives them (see `sync.population_statistics`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import duckdb

from feature_store.monitoring.profile import DECILES, QUANTILES, TOP_VALUES, FeatureStats, Histogram, kind_of
from feature_store.offline.connection import one_row
from feature_store.registry.model import Feature
from feature_store.sql import literal, quote

BOOL_CATEGORIES = ("false", "true")
# A number with at most this many distinct values is counted per value (exact quantiles), else in buckets.
EXACT_VALUES = 10_000
# Buckets: a positive value x is in bucket i when GAMMA^(i-1) < x <= GAMMA^i (negatives mirrored, zero alone);
# a bucket's midpoint 2 GAMMA^i / (1 + GAMMA) is within RELATIVE_ACCURACY of every value in it.
RELATIVE_ACCURACY = 0.001
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LN_GAMMA = math.log(GAMMA)
BUCKET_OFFSET = 1_000_000  # positive buckets above it, negative below its negation: keys sort as values do
INFINITE_BUCKET = 2**62  # +inf (and NaN just above), -inf at its negation
COUNTS_TABLE = "stats_counts"
COUNT_COLUMNS = "feature, value, number, bucket, n"


def bucket_sql(column: str) -> str:
    """The bucket key of a number column (see GAMMA), as a bigint that orders as the values do."""
    x = f"{column}::double"
    return (f"case when isnan({x}) then {INFINITE_BUCKET + 1} when isinf({x}) then "
            f"(case when {x} > 0 then {INFINITE_BUCKET} else -{INFINITE_BUCKET} end) "
            f"when {x} > 0 then {BUCKET_OFFSET} + ceil(ln({x}) / {LN_GAMMA!r})::bigint "
            f"when {x} < 0 then -({BUCKET_OFFSET} + floor(ln(-{x}) / {LN_GAMMA!r})::bigint) else 0 end")


def _power(exponent: int) -> float:
    try:
        return GAMMA ** exponent
    except OverflowError:
        return math.inf


def bucket_bounds(key: int) -> tuple[float, float, float]:
    """A bucket's (lower, upper, midpoint): it holds lower < value <= upper."""
    if key == 0:
        return 0.0, 0.0, 0.0
    if abs(key) >= INFINITE_BUCKET:
        value = math.nan if key > INFINITE_BUCKET else math.copysign(math.inf, key)
        return value, value, value
    if key > 0:
        i = key - BUCKET_OFFSET
        return _power(i - 1), _power(i), 2 * _power(i) / (1 + GAMMA)
    j = -key - BUCKET_OFFSET
    return -_power(j + 1), -_power(j), -2 * _power(j + 1) / (1 + GAMMA)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations from the mean of a number's non-null values."""

    n: int
    mean: float
    m2: float

    def plus(self, other: Moments) -> Moments:
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta * delta * self.n * other.n / n)

    def minus(self, part: Moments) -> Moments:
        """These values without `part` (a subset of them)."""
        n = self.n - part.n
        if n <= 0 or not part.n:
            return self if not part.n else Moments(0, 0.0, 0.0)
        mean = (self.n * self.mean - part.n * part.mean) / n
        delta = part.mean - mean
        return Moments(n, mean, max(0.0, self.m2 - part.m2 - delta * delta * n * part.n / self.n))


@dataclass(frozen=True)
class Summary:
    """The mergeable description of some rows: `counts` is SQL yielding `COUNT_COLUMNS`."""

    rows: int
    present: Mapping[str, int]
    moments: Mapping[str, Moments]  # numbers
    exact: Mapping[str, bool]  # numbers counted per value (else in buckets)
    counts: str
    minimum: Mapping[str, float | None] = field(default_factory=dict)
    maximum: Mapping[str, float | None] = field(default_factory=dict)


def number_features(features: Sequence[Feature]) -> list[Feature]:
    return [feature for feature in features if kind_of(feature.dtype) == "number"]


def exact_numbers(connection: duckdb.DuckDBPyConnection, relation: str, features: Sequence[Feature]) -> dict[str, bool]:
    """Which numbers have few enough distinct values (estimated) to be counted per value."""
    numbers = number_features(features)
    if not numbers:
        return {}
    row = one_row(connection.execute("select " + ", ".join(f"approx_count_distinct({quote(f.name)})"
                                                           for f in numbers) + f" from ({relation})"))
    return {feature.name: int(distinct) <= EXACT_VALUES for feature, distinct in zip(numbers, row, strict=True)}


def counts_sql(relation: str, features: Sequence[Feature], exact: Mapping[str, bool], sign: int = 1) -> str:
    """`COUNT_COLUMNS` of `relation`'s non-null values, each count times `sign`."""
    parts = []
    for feature in features:
        column, kind = quote(feature.name), kind_of(feature.dtype)
        if kind in ("string", "bool"):
            keys = f"cast({column} as varchar), null::double, null::bigint"
        elif kind == "number" and exact.get(feature.name, False):
            keys = f"null::varchar, {column}::double, null::bigint"
        elif kind == "number":
            keys = f"null::varchar, null::double, {bucket_sql(column)}"
        else:
            continue
        parts.append(f"select {literal(feature.name)}, {keys}, {sign} * count(*) from ({relation}) "
                     f"where {column} is not null group by all")
    if not parts:
        return "select null::varchar as feature, null::varchar as value, null::double as number, " \
               "null::bigint as bucket, 0::bigint as n where false"
    return "select * from (" + " union all ".join(parts) + ") as c(feature, value, number, bucket, n)"


def summarize(
    connection: duckdb.DuckDBPyConnection, relation: str, features: Sequence[Feature], exact: Mapping[str, bool],
    with_extremes: bool = True,
) -> Summary:
    """One aggregate of `relation` (rows, non-null counts, moments, min/max); its counts stay SQL."""
    parts = ["count(*)"]
    for feature in features:
        column = quote(feature.name)
        parts.append(f"count({column})")
        if kind_of(feature.dtype) == "number":
            parts += [f"avg({column})::double", f"var_pop({column})::double"]
            if with_extremes:
                parts += [f"min({column})::double", f"max({column})::double"]
    row = list(one_row(connection.execute(f"select {', '.join(parts)} from ({relation})")))
    rows = int(row.pop(0))
    present, moments, minimum, maximum = {}, {}, {}, {}
    for feature in features:
        present[feature.name] = int(row.pop(0))
        if kind_of(feature.dtype) == "number":
            mean, variance = row.pop(0), row.pop(0)
            n = present[feature.name]
            moments[feature.name] = Moments(n, float(mean or 0.0), float(variance or 0.0) * n)
            if with_extremes:
                minimum[feature.name], maximum[feature.name] = row.pop(0), row.pop(0)
    return Summary(rows, present, moments, exact, counts_sql(relation, features, exact), minimum, maximum)


def combined(base: Summary, leaving: Summary, arriving: Summary, counts: str) -> Summary:
    """`base` without the rows of `leaving` (a subset of it) and with those of `arriving`; min/max left out."""
    return Summary(
        rows=base.rows - leaving.rows + arriving.rows,
        present={name: base.present[name] - leaving.present[name] + arriving.present[name] for name in base.present},
        moments={name: base.moments[name].minus(leaving.moments[name]).plus(arriving.moments[name])
                 for name in base.moments},
        exact=base.exact, counts=counts,
    )


def merged_counts_sql(*parts: str) -> str:
    """Counts of several `COUNT_COLUMNS` relations added up (keys whose count comes to 0 dropped)."""
    union = " union all ".join(f"select {COUNT_COLUMNS} from ({part})" for part in parts)
    return (f"select feature, value, number, bucket, sum(n)::bigint as n from ({union}) "
            f"group by all having sum(n) <> 0")


def feature_statistics(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    features: Sequence[Feature],
    reference: Mapping[str, FeatureStats] | None = None,
) -> tuple[FeatureStats, ...]:
    """Every feature's statistics over `relation` (SQL yielding a column per feature name), from its summary;
    `reference` gives the bins each feature is also counted into (`FeatureStats.on_reference`)."""
    if not features:
        return ()
    summary = summarize(connection, relation, features, exact_numbers(connection, relation, features))
    return describe(connection, summary, features, reference)


def describe(
    connection: duckdb.DuckDBPyConnection,
    summary: Summary,
    features: Sequence[Feature],
    reference: Mapping[str, FeatureStats] | None = None,
) -> tuple[FeatureStats, ...]:
    """Every feature's statistics from `summary` (its counts materialized once, in `COUNTS_TABLE`)."""
    reference = reference or {}
    connection.execute(f"create or replace temp table {COUNTS_TABLE} as {summary.counts}")
    wanted = {name: stats.histogram.categories for name, stats in reference.items()
              if stats.histogram is not None and stats.histogram.categories}
    by_value = _value_counts(connection, wanted)
    numbers = _number_counts(connection)
    described = []
    for feature in features:
        name, kind = feature.name, kind_of(feature.dtype)
        present = summary.present[name]
        spec: dict = {"name": name, "dtype": feature.dtype, "count": summary.rows, "nulls": summary.rows - present}
        known = reference.get(name)
        bins = known.histogram if known is not None and known.dtype == feature.dtype and kind != "other" else None
        if kind == "number":
            keys, counts = numbers.get(name, ((), ()))
            counted = _NumberCounts(keys, counts, summary.exact.get(name, False),
                                    summary.minimum.get(name), summary.maximum.get(name))
            moments = summary.moments[name]
            spec.update(minimum=summary.minimum.get(name), maximum=summary.maximum.get(name),
                        mean=moments.mean if moments.n else None,
                        stddev=math.sqrt(moments.m2 / moments.n) if moments.n else None)
            spec["quantiles"] = tuple((p, counted.quantile(p)) for p in QUANTILES) if moments.n else ()
            spec["quantile_accuracy"] = 0.0 if counted.exact else RELATIVE_ACCURACY
            edges = counted.own_edges()
            spec["histogram"] = counted.histogram(edges) if edges else None
            if bins is not None and bins.edges:
                spec["on_reference"] = counted.histogram(bins.edges)
        elif kind in ("string", "bool"):
            values = by_value.get(name, {})
            if kind == "string":
                spec["distinct"] = values.get(None, (0,))[0]
                top = sorted(((v, n) for v, n in values.items() if v is not None), key=lambda p: (-p[1], p[0]))
                spec["top"] = tuple((value, n / present) for value, n in top[:TOP_VALUES])
                own = tuple(value for value, _ in spec["top"])
            else:
                spec["true_rate"] = values.get("true", 0) / present if present else None
                own = BOOL_CATEGORIES
            if own:
                spec["histogram"] = _category_histogram(own, values, present)
            if bins is not None and bins.categories:
                spec["on_reference"] = _category_histogram(bins.categories, values, present)
        described.append(FeatureStats(**spec))
    return tuple(described)


def _value_counts(connection: duckdb.DuckDBPyConnection, wanted: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """Per string or boolean feature: the counts of its most frequent values and of the `wanted` categories
    (a reference's), and under None its distinct count."""
    found: dict[str, dict] = {}
    for name, distinct in connection.execute(
            f"select feature, count(*) from {COUNTS_TABLE} where value is not null group by feature").fetchall():
        found.setdefault(name, {})[None] = (int(distinct),)
    also = "".join(f" or (feature = {literal(name)} and value in ({', '.join(literal(c) for c in categories)}))"
                   for name, categories in wanted.items())
    for name, value, n in connection.execute(
            f"select feature, value, n from (select *, row_number() over (partition by feature order by n desc, "
            f"value) as r from {COUNTS_TABLE} where value is not null) where r <= {TOP_VALUES} or value = 'true'"
            f"{also}").fetchall():
        found.setdefault(name, {})[value] = int(n)
    return found


def _number_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, tuple[tuple, tuple]]:
    rows: dict[str, tuple[list, list]] = {}
    for name, key, n in connection.execute(
            f"select feature, coalesce(number, bucket::double) as k, n from {COUNTS_TABLE} "
            f"where value is null order by feature, k").fetchall():
        keys, counts = rows.setdefault(name, ([], []))
        keys.append(key)
        counts.append(int(n))
    return {name: (tuple(keys), tuple(counts)) for name, (keys, counts) in rows.items()}


def _category_histogram(categories: Sequence[str], values: Mapping, present: int) -> Histogram:
    counts = [int(values.get(category, 0)) for category in categories]
    return Histogram((*counts, present - sum(counts)), categories=tuple(categories))


@dataclass(frozen=True)
class _NumberCounts:
    """A number's counts in key order: per value (`exact`) or per bucket (keys are bucket keys)."""

    keys: tuple[float, ...]
    counts: tuple[int, ...]
    exact: bool
    minimum: float | None
    maximum: float | None
    cumulative: tuple[int, ...] = ()
    uppers: tuple[float, ...] = ()  # each bucket's top (buckets only)

    def __post_init__(self) -> None:
        total, running = 0, []
        for count in self.counts:
            total += count
            running.append(total)
        object.__setattr__(self, "cumulative", tuple(running))
        if not self.exact:
            object.__setattr__(self, "uppers", tuple(bucket_bounds(int(key))[1] for key in self.keys))

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0

    def _index_of_rank(self, rank: int) -> int:
        return bisect.bisect_right(self.cumulative, rank)

    def _value_at(self, index: int) -> float:
        if self.exact:
            return self.keys[index]
        value = bucket_bounds(int(self.keys[index]))[2]
        low = self.minimum if self.minimum is not None else value
        high = self.maximum if self.maximum is not None else value
        return min(max(value, low), high)  # the extremes are exact: no estimate lies beyond them

    def quantile(self, p: float) -> float:
        """As `quantile_cont`: interpolated between the values at ranks floor(h) and ceil(h), h = (n - 1) p."""
        h = (self.total - 1) * p
        below, above = math.floor(h), math.ceil(h)
        low = self._value_at(self._index_of_rank(below))
        high = self._value_at(self._index_of_rank(above))
        return low + (h - below) * (high - low)

    def own_edges(self) -> tuple[float, ...]:
        """The edges of the feature's own histogram: its deciles (bucket tops, from buckets, so counts are exact)."""
        if not self.total:
            return ()
        if self.exact:
            return tuple(sorted({self.quantile(p) for p in DECILES}))
        tops = {bucket_bounds(int(self.keys[self._index_of_rank(math.floor((self.total - 1) * p))]))[1]
                for p in DECILES}
        return tuple(sorted(edge for edge in tops if not math.isnan(edge)))

    def at_most(self, edge: float) -> int:
        """How many values are <= edge: exact per value and at bucket tops; else the bucket holding `edge` is
        split in proportion to where the edge falls in it."""
        if self.exact:
            index = bisect.bisect_right(self.keys, edge)
            return self.cumulative[index - 1] if index else 0
        index = bisect.bisect_right(self.uppers, edge)  # buckets wholly at or below the edge
        counted = self.cumulative[index - 1] if index else 0
        if index < len(self.keys):
            lower, upper, _ = bucket_bounds(int(self.keys[index]))
            if lower < edge:
                counted += round(self.counts[index] * (edge - lower) / (upper - lower))
        return counted

    def histogram(self, edges: Sequence[float]) -> Histogram:
        cumulative = [self.at_most(edge) for edge in edges]
        counts = [b - a for a, b in zip([0, *cumulative], [*cumulative, self.total], strict=True)]
        return Histogram(tuple(counts), tuple(edges))


def with_extremes(summary: Summary, minimum: Mapping[str, float | None], maximum: Mapping[str, float | None]
                  ) -> Summary:
    return replace(summary, minimum=dict(minimum), maximum=dict(maximum))


def columns_of(connection: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """The column names `relation` yields."""
    return {row[0] for row in connection.execute(f"describe select * from ({relation})").fetchall()}
