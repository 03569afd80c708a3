"""Statistics of features over a relation, in DuckDB: a few aggregates, whatever the row count.

One aggregate gives every feature's count, nulls, min, max, mean, standard
deviation and quantiles (numbers), distinct count (strings) and true count
(booleans); one group-by per string feature gives its most frequent values; one
more aggregate counts every feature into its bins, its own (deciles, top values)
and, when there is a reference, the reference's, so drift needs no second read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from feature_store.monitoring.profile import DECILES, QUANTILES, TOP_VALUES, FeatureStats, Histogram, kind_of
from feature_store.offline.connection import one_row
from feature_store.registry.model import Feature
from feature_store.sql import literal, quote

BOOL_CATEGORIES = ("false", "true")


def feature_statistics(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    features: Sequence[Feature],
    reference: Mapping[str, FeatureStats] | None = None,
) -> tuple[FeatureStats, ...]:
    """Every feature's statistics over `relation` (SQL yielding a column per feature name);
    `reference` gives the bins each feature is also counted into (`FeatureStats.on_reference`)."""
    reference = reference or {}
    if not features:
        return ()
    probabilities = "[" + ", ".join(repr(p) for p in QUANTILES) + "]"
    parts = ["count(*)"]
    for feature in features:
        column, kind = quote(feature.name), kind_of(feature.dtype)
        parts.append(f"count({column})")
        if kind == "number":
            parts += [f"min({column})", f"max({column})", f"avg({column})::double", f"stddev_pop({column})::double",
                      f"quantile_cont({column}, {probabilities})::double[]"]
        elif kind == "string":
            parts.append(f"count(distinct {column})")
        elif kind == "bool":
            parts.append(f"count_if({column})")
    row = list(one_row(connection.execute(f"select {', '.join(parts)} from ({relation})")))
    rows = int(row.pop(0))
    measured: list[dict] = []
    for feature in features:
        kind = kind_of(feature.dtype)
        present = int(row.pop(0))
        spec: dict = {"name": feature.name, "dtype": feature.dtype, "count": rows, "nulls": rows - present}
        if kind == "number":
            minimum, maximum, mean, stddev, quantiles = (row.pop(0) for _ in range(5))
            spec.update(minimum=minimum, maximum=maximum, mean=mean, stddev=stddev)
            spec["quantiles"] = tuple(zip(QUANTILES, quantiles, strict=True)) if quantiles else ()
        elif kind == "string":
            spec["distinct"] = int(row.pop(0))
            spec["top"] = _top_values(connection, relation, feature.name, present)
        elif kind == "bool":
            trues = int(row.pop(0))
            spec["true_rate"] = trues / present if present else None
        measured.append(spec)
    _count_into_bins(connection, relation, features, measured, reference)
    return tuple(FeatureStats(**spec) for spec in measured)


def _top_values(
    connection: duckdb.DuckDBPyConnection, relation: str, name: str, present: int
) -> tuple[tuple[str, float], ...]:
    column = quote(name)
    found = connection.execute(
        f"select {column}, count(*) as n from ({relation}) where {column} is not null "
        f"group by {column} order by n desc, {column} limit {TOP_VALUES}").fetchall()
    return tuple((str(value), count / present) for value, count in found)


def _own_bins(spec: dict) -> Histogram | None:
    """The bins a feature's own histogram uses (counts still empty): its deciles, top values, false/true."""
    kind = kind_of(spec["dtype"])
    if kind == "number":
        deciles = [value for p, value in spec.get("quantiles", ()) if p in DECILES]
        return Histogram((), edges=tuple(sorted(set(deciles)))) if deciles else None
    if kind == "string":
        return Histogram((), categories=tuple(value for value, _ in spec.get("top", ()))) if spec.get("top") else None
    if kind == "bool":
        return Histogram((), categories=BOOL_CATEGORIES)
    return None


def _count_into_bins(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    features: Sequence[Feature],
    measured: list[dict],
    reference: Mapping[str, FeatureStats],
) -> None:
    """Fill each feature's `histogram` (own bins) and `on_reference` (the reference's), in one aggregate."""
    wanted: list[tuple[dict, str, Histogram]] = []
    for spec in measured:
        own = _own_bins(spec)
        if own is not None:
            wanted.append((spec, "histogram", own))
        known = reference.get(spec["name"])
        if known is not None and known.histogram is not None and kind_of(spec["dtype"]) != "other" \
                and known.dtype == spec["dtype"]:
            wanted.append((spec, "on_reference", known.histogram))
    if not wanted:
        return
    parts: list[str] = []
    for spec, _, bins in wanted:
        column = quote(spec["name"])
        parts.append(f"count({column})")
        if bins.categories:
            parts += [f"count_if(cast({column} as varchar) = {literal(c)})" for c in bins.categories]
        else:
            parts += [f"count_if({column} <= {edge!r}::double)" for edge in bins.edges]  # cumulative
    row = list(one_row(connection.execute(f"select {', '.join(parts)} from ({relation})")))
    for spec, key, bins in wanted:
        present = int(row.pop(0))
        if bins.categories:
            counts = [int(row.pop(0)) for _ in bins.categories]
            counts.append(present - sum(counts))
        else:
            cumulative = [int(row.pop(0)) for _ in bins.edges]
            counts = [b - a for a, b in zip([0, *cumulative], [*cumulative, present], strict=True)]
        spec[key] = Histogram(tuple(counts), bins.edges, bins.categories)


def columns_of(connection: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """The column names `relation` yields."""
    return {row[0] for row in connection.execute(f"describe select * from ({relation})").fetchall()}
