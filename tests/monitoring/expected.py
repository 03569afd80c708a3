"""Statistics computed independently of the sync: the latest rows picked in Python
(tests.reference), described by plain DuckDB SQL written here, not the sync's."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from feature_store.monitoring.profile import QUANTILES, FeatureStats, SyncProfile
from feature_store.offline.statistics import EXACT_VALUES, RELATIVE_ACCURACY
from tests.reference import latest_rows


def population(parquet: Path, features: list[str], as_of: datetime, created: str | None = None) -> pa.Table:
    rows = latest_rows(parquet, "user_id", "event_timestamp", as_of, created)
    return pa.Table.from_pylist([{name: row[name] for name in features} for row in rows.values()])


def assert_described(stats: FeatureStats, table: pa.Table) -> None:
    """`stats` is what DuckDB says of the column of `table` with its name."""
    connection = duckdb.connect()
    connection.register("population", table)

    def one(sql: str) -> tuple[Any, ...]:
        row = connection.execute(sql).fetchone()
        assert row is not None
        return row

    column = '"' + stats.name + '"'
    count, present = one(f"select count(*), count({column}) from population")
    assert (stats.count, stats.nulls) == (count, count - present), stats.name
    if stats.kind == "number":
        probabilities = "[" + ", ".join(repr(p) for p in QUANTILES) + "]"
        minimum, maximum, mean, stddev, distinct, quantiles = one(
            f"select min({column}), max({column}), avg({column}), stddev_pop({column}), count(distinct {column}), "
            f"quantile_cont({column}, {probabilities}) from population")
        assert (stats.minimum, stats.maximum) == (minimum, maximum), stats.name
        assert _close(stats.mean, mean) and _close(stats.stddev, stddev), stats.name
        # Exact from per-value counts; from buckets, within their relative accuracy (the test data stays far
        # from the switch between the two).
        assert distinct < EXACT_VALUES * 0.8 or distinct > EXACT_VALUES * 1.2, (stats.name, distinct)
        tolerance = 1e-9 if distinct <= EXACT_VALUES else RELATIVE_ACCURACY * 1.0001
        assert stats.quantile_accuracy == (0.0 if distinct <= EXACT_VALUES else RELATIVE_ACCURACY), stats.name
        for (p, found), expected in zip(stats.quantiles, quantiles or [], strict=True):
            assert math.isclose(found, expected, rel_tol=tolerance, abs_tol=1e-9), (stats.name, p, found, expected)
        if stats.histogram is not None:  # counts on its own edges, exactly
            below = one("select " + ", ".join(f"count_if({column} <= {edge!r})" for edge in stats.histogram.edges)
                        + " from population") if stats.histogram.edges else ()
            cumulative = [sum(stats.histogram.counts[:i + 1]) for i in range(len(stats.histogram.edges))]
            assert cumulative == list(below), (stats.name, stats.histogram)
    elif stats.kind == "string":
        (distinct,) = one(f"select count(distinct {column}) from population")
        assert stats.distinct == distinct, stats.name
        top = connection.execute(
            f"select {column}, count(*) from population where {column} is not null group by 1 "
            f"order by 2 desc, 1 limit 10").fetchall()
        assert [(value, round(share, 12)) for value, share in stats.top] == \
            [(value, round(n / present, 12)) for value, n in top], stats.name
    elif stats.kind == "bool":
        (trues,) = one(f"select count(*) filter (where {column}) from population")
        assert _close(stats.true_rate, trues / present), stats.name
    if stats.histogram is not None:
        assert stats.histogram.total == present, stats.name


def assert_profile_describes(profile: SyncProfile, table: pa.Table) -> None:
    assert profile.rows == table.num_rows
    for stats in profile.features:
        assert_described(stats, table)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
