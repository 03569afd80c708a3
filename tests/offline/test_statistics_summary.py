"""Summaries of feature values: buckets that order as values do, moments that add and subtract, and a
summary taken in parts that describes the whole as one taken at once."""

from __future__ import annotations

import math

import duckdb
import pytest

from feature_store.offline.connection import one_row
from feature_store.offline.statistics import (
    EXACT_VALUES,
    RELATIVE_ACCURACY,
    Moments,
    bucket_bounds,
    bucket_sql,
    combined,
    counts_sql,
    describe,
    merged_counts_sql,
    summarize,
    with_extremes,
)
from feature_store.registry.model import Feature

VALUES = [-math.inf, -1e12, -523.25, -1.0, -1e-9, 0.0, 1e-300, 0.001, 1.0, 1.002, 2.5, 1e6, 3.4e300, math.inf]


def test_every_value_lies_in_its_bucket_and_buckets_order_as_values() -> None:
    connection = duckdb.connect()
    keys = [one_row(connection.execute(f"select {bucket_sql('x')} from (select ?::double as x)", [value]))[0]
            for value in VALUES]
    assert keys == sorted(keys)
    for value, key in zip(VALUES, keys, strict=True):
        lower, upper, middle = bucket_bounds(key)
        if math.isinf(value):
            assert middle == value
            continue
        assert lower <= value <= upper and (lower < value or lower == upper == 0.0), (value, key)
        assert math.isclose(middle, value, rel_tol=RELATIVE_ACCURACY * 1.0001, abs_tol=0.0), (value, middle)


def test_moments_added_and_subtracted_equal_those_taken_at_once() -> None:
    values = [float(v) * 1.5 + 1e6 for v in range(1000)]

    def moments(part: list[float]) -> Moments:
        mean = sum(part) / len(part)
        return Moments(len(part), mean, sum((v - mean) ** 2 for v in part))

    whole, head, tail = moments(values), moments(values[:300]), moments(values[300:])
    assert head.plus(tail).mean == pytest.approx(whole.mean, rel=1e-12)
    assert head.plus(tail).m2 == pytest.approx(whole.m2, rel=1e-9)
    assert whole.minus(head).mean == pytest.approx(tail.mean, rel=1e-12)
    assert whole.minus(head).m2 == pytest.approx(tail.m2, rel=1e-9)


def test_a_summary_in_parts_describes_the_whole() -> None:
    """Base minus leaving plus arriving (with negatives, zeros and nulls, counted in buckets) describes the
    population those changes leave, as a summary of it taken at once does."""
    connection = duckdb.connect()
    connection.execute(f"""create table base as select range as k,
        case when range % 7 = 0 then null else ((range - 9000) * 0.37)::double end as amount,
        case when range % 11 = 0 then null else 'p' || (range % 13) end as plan from range({EXACT_VALUES * 2})""")
    connection.execute("create table leaving as select * from base where k % 5 = 0")
    connection.execute("create table arriving as select k, amount * 2 as amount, 'q' || (k % 3) as plan "
                       "from leaving where k % 10 = 0")
    connection.execute("create table now as select * from base where k % 5 <> 0 union all select * from arriving")
    features = [Feature("amount", "float64", "v"), Feature("plan", "string", "v")]
    exact = {"amount": False}
    base = summarize(connection, "select * from base", features, exact)
    gone = summarize(connection, "select * from leaving", features, exact, with_extremes=False)
    new = summarize(connection, "select * from arriving", features, exact)
    counts = merged_counts_sql(base.counts, counts_sql("select * from leaving", features, exact, -1), new.counts)
    whole = summarize(connection, "select * from now", features, exact)
    parts = with_extremes(combined(base, gone, new, counts), whole.minimum, whole.maximum)
    by_parts, at_once = describe(connection, parts, features), describe(connection, whole, features)
    for a, b in zip(by_parts, at_once, strict=True):
        assert (a.count, a.nulls, a.quantiles, a.distinct, a.top, a.histogram) == \
            (b.count, b.nulls, b.quantiles, b.distinct, b.top, b.histogram)
        if a.kind == "number":
            assert a.mean == pytest.approx(b.mean, rel=1e-12) and a.stddev == pytest.approx(b.stddev, rel=1e-9)
    (median,) = one_row(connection.execute("select quantile_cont(amount, 0.5) from now"))
    assert dict(by_parts[0].quantiles)[0.5] == pytest.approx(median, rel=RELATIVE_ACCURACY)
