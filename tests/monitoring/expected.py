"""Statistics computed independently of the sync: the latest rows picked in Python
(tests.reference), described by plain DuckDB SQL written here, not the sync's."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from feature_store.monitoring.profile import FeatureStats, SyncProfile
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
        minimum, maximum, mean, stddev, median, p99 = one(
            f"select min({column}), max({column}), avg({column}), stddev_pop({column}), "
            f"quantile_cont({column}, 0.5), quantile_cont({column}, 0.99) from population")
        assert (stats.minimum, stats.maximum) == (minimum, maximum), stats.name
        assert _close(stats.mean, mean) and _close(stats.stddev, stddev), stats.name
        quantiles = dict(stats.quantiles)
        assert _close(quantiles[0.5], median) and _close(quantiles[0.99], p99), stats.name
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
