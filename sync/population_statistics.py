"""The statistics of a view's whole population of latest values, at a cost that follows the change.

The fingerprints (`sync.changes`) hold the population as base files, overridden
per entity by delta files. Beside the base, its `Summary` is kept (written
once, when the base is: a full sync, or a sync that rewrites the base): the
scalars in `summary-base.json`, the counts in `summary-base-counts.parquet`,
and each number's `EXTREMES` lowest and highest values with their entities in
`summary-base-extremes.parquet`. A sync that keeps the base links these in
with it, and describes the population as the base's summary, minus the base
rows the delta overrides (whose values each delta row keeps, see
`sync.changes.base_column`), plus the delta's rows still in the view: it reads
the delta (at most `COMPACT_SHARE` of the base), never the base.

A number's minimum (maximum) is the lowest of the delta's and of the base's
kept lowest values whose entity the delta does not override; only when the
delta overrides all of them is the population scanned for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import duckdb

from feature_store.monitoring.profile import FeatureStats
from feature_store.offline.statistics import (
    Moments,
    Summary,
    combined,
    counts_sql,
    describe,
    exact_numbers,
    merged_counts_sql,
    number_features,
    summarize,
    with_extremes,
)
from feature_store.registry.model import FeatureView
from feature_store.sql import literal, quote
from sync.changes import GONE_COLUMN, IN_BASE_COLUMN, KEY_COLUMN, base_column, kept_values_sql
from sync.record import SUMMARY_PREFIX, Fingerprints

SUMMARY_FORMAT = 1
SCALARS_FILE = f"{SUMMARY_PREFIX}base.json"
COUNTS_FILE = f"{SUMMARY_PREFIX}base-counts.parquet"
EXTREMES_FILE = f"{SUMMARY_PREFIX}base-extremes.parquet"
EXTREMES = 32  # lowest and highest values kept per number: the delta must override all of them to force a scan
POPULATION_TABLE = "stats_population"
LEAVING_TABLE = "stats_leaving"
ARRIVING_TABLE = "stats_arriving"


def population_statistics(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    fingerprints: Fingerprints,
    reference: Mapping[str, FeatureStats] | None = None,
) -> tuple[FeatureStats, ...]:
    """Every feature's statistics over the latest values `fingerprints` hold (its folder gets the base's summary
    when it has none that matches its base)."""
    base = _base_summary(connection, view, fingerprints)
    if not fingerprints.delta:
        return describe(connection, base, view.features, reference)
    features, delta = view.features, _files(fingerprints.delta)
    names = ", ".join(quote(name) for name in view.feature_names)
    overridden = ", ".join(f"{base_column(name)} as {quote(name)}" for name in view.feature_names)
    connection.execute(f"create or replace temp table {LEAVING_TABLE} as select {overridden} from {delta} "
                       f"where {IN_BASE_COLUMN}")
    connection.execute(f"create or replace temp table {ARRIVING_TABLE} as select {names} from {delta} "
                       f"where not {GONE_COLUMN}")
    leaving = summarize(connection, f"select * from {LEAVING_TABLE}", features, base.exact, with_extremes=False)
    arriving = summarize(connection, f"select * from {ARRIVING_TABLE}", features, base.exact)
    counts = merged_counts_sql(base.counts, counts_sql(f"select * from {LEAVING_TABLE}", features, base.exact, -1),
                               arriving.counts)
    population = combined(base, leaving, arriving, counts)
    minimum, maximum = _extremes(connection, view, fingerprints, arriving)
    return describe(connection, with_extremes(population, minimum, maximum), features, reference)


def _files(paths: tuple[Path, ...]) -> str:
    return "read_parquet([" + ", ".join(literal(str(path)) for path in paths) + "])"


def _identity(view: FeatureView, fingerprints: Fingerprints) -> dict:
    """What a kept summary must match: its format, the view's features and the base files it describes."""
    return {"format": SUMMARY_FORMAT, "features": [[f.name, f.dtype] for f in view.features],
            "base": [[path.name, path.stat().st_size, path.stat().st_mtime_ns] for path in fingerprints.base]}


def _base_summary(connection: duckdb.DuckDBPyConnection, view: FeatureView, fingerprints: Fingerprints) -> Summary:
    folder = fingerprints.base[0].parent
    identity = _identity(view, fingerprints)
    try:
        kept = json.loads((folder / SCALARS_FILE).read_text())
        if kept["identity"] == identity and (folder / COUNTS_FILE).exists() and (folder / EXTREMES_FILE).exists():
            return _summary_from(kept, folder)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return _write_base_summary(connection, view, fingerprints, identity)


def _summary_from(kept: dict, folder: Path) -> Summary:
    return Summary(
        rows=int(kept["rows"]), present={k: int(v) for k, v in kept["present"].items()},
        moments={k: Moments(int(n), float(mean), float(m2)) for k, (n, mean, m2) in kept["moments"].items()},
        exact={k: bool(v) for k, v in kept["exact"].items()},
        counts=f"select * from read_parquet({literal(str(folder / COUNTS_FILE))})",
        minimum=kept["minimum"], maximum=kept["maximum"],
    )


def _write_base_summary(
    connection: duckdb.DuckDBPyConnection, view: FeatureView, fingerprints: Fingerprints, identity: dict
) -> Summary:
    """Summarize every base row once (a full pass) and keep the summary beside the base."""
    folder = fingerprints.base[0].parent
    for name in (SCALARS_FILE, COUNTS_FILE, EXTREMES_FILE):
        (folder / name).unlink(missing_ok=True)  # a link to an older base's: never written through
    names = ", ".join(quote(name) for name in view.feature_names)
    connection.execute(f"create or replace temp table {POPULATION_TABLE} as select {KEY_COLUMN}, {names} "
                       f"from {_files(fingerprints.base)}")
    relation = f"select * from {POPULATION_TABLE}"
    summary = summarize(connection, relation, view.features, exact_numbers(connection, relation, view.features))
    connection.execute(f"COPY ({summary.counts}) TO {literal(str(folder / COUNTS_FILE))} (FORMAT parquet)")
    ends = []
    for feature in number_features(view.features):
        column = quote(feature.name)
        for side, order in (("low", "asc"), ("high", "desc")):
            ends.append(f"(select {literal(feature.name)} as feature, {literal(side)} as side, {column}::double "
                        f"as number, {KEY_COLUMN} from {POPULATION_TABLE} where {column} is not null "
                        f"order by {column} {order} limit {EXTREMES})")
    if not ends:
        ends.append(f"select null::varchar as feature, null::varchar as side, null::double as number, {KEY_COLUMN} "
                    f"from {POPULATION_TABLE} where false")
    connection.execute(f"COPY ({' union all '.join(ends)}) TO {literal(str(folder / EXTREMES_FILE))} "
                       f"(FORMAT parquet)")
    connection.execute(f"drop table {POPULATION_TABLE}")
    scalars = {"identity": identity, "rows": summary.rows, "present": dict(summary.present),
               "moments": {k: [m.n, m.mean, m.m2] for k, m in summary.moments.items()},
               "exact": dict(summary.exact), "minimum": dict(summary.minimum), "maximum": dict(summary.maximum)}
    temporary = folder / f"{SCALARS_FILE}.tmp"
    temporary.write_text(json.dumps(scalars))
    os.replace(temporary, folder / SCALARS_FILE)  # last: the summary counts only once all of it is written
    return _summary_from(scalars, folder)


def _extremes(
    connection: duckdb.DuckDBPyConnection, view: FeatureView, fingerprints: Fingerprints, arriving: Summary
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Each number's population minimum and maximum (see the module's docstring)."""
    minimum: dict[str, float | None] = {}
    maximum: dict[str, float | None] = {}
    numbers = number_features(view.features)
    if not numbers:
        return minimum, maximum
    folder = fingerprints.base[0].parent
    marked = (f"select e.*, d.{KEY_COLUMN} is null as __kept from read_parquet("
              f"{literal(str(folder / EXTREMES_FILE))}) as e left join (select distinct {KEY_COLUMN} from "
              f"{_files(fingerprints.delta)}) as d on d.{KEY_COLUMN} = e.{KEY_COLUMN}")
    kept = (f"select feature, side, count(*), count(*) filter (where __kept), min(number) filter (where __kept), "
            f"max(number) filter (where __kept) from ({marked}) group by feature, side")
    ends = {(feature, side): (int(total), int(remaining), low, high)
            for feature, side, total, remaining, low, high in connection.execute(kept).fetchall()}
    unknown = []
    for feature in numbers:
        name = feature.name
        for side, pick, into, bound in (("low", min, minimum, 2), ("high", max, maximum, 3)):
            total, remaining, *values = ends.get((name, side), (0, 0, None, None))
            if remaining == 0 and total >= EXTREMES:
                unknown.append(name)  # every kept extreme was overridden: the base's next one is not known
                continue
            found = [value for value in (values[bound - 2], (arriving.minimum if side == "low" else
                                                              arriving.maximum).get(name)) if value is not None]
            into[name] = pick(found) if found else None
    if unknown:
        unknown = sorted(set(unknown))
        parts = ", ".join(f"min({quote(n)})::double, max({quote(n)})::double" for n in unknown)
        row = connection.execute(f"select {parts} from ({kept_values_sql(fingerprints, view)})").fetchone()
        assert row is not None
        for index, name in enumerate(unknown):
            minimum[name], maximum[name] = row[2 * index], row[2 * index + 1]
    return minimum, maximum
