"""A push-fed view's push log on the offline side: compacting it into Parquet, and the view's history
with the rows pushed since its last build.

The log of a view is a folder (`data/push/<view>/`, see `registry.manifest.push_log_folder`) of
Parquet files, plus the landing files pushes write (`landing/*.json`, see `feature_store.push.log`).
The view's dbt model reads both (macros/push_log.sql).

Compaction turns every landing file into one Parquet file, and merges the Parquet files into one once
there are more than `MAX_PARQUET_FILES`: the new file is written under a temporary name, fsynced and
renamed (and its folder fsynced) before the files it holds are removed, so no row is ever only in a
removed file. A crash between the rename and the removal leaves rows in two files: the view's model
and the sync keep one of identical rows, so that costs nothing. One compaction at a time per log
(a lock file); pushes only add landing files, so they never wait for it. Run it when no `dbt build`
reads the log (the sync does, after the build): a build that lists a file a compaction then removes
fails, and succeeds when run again.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from feature_store.offline.connection import one_row
from feature_store.offline.schema import parquet_files as history_files
from feature_store.push.log import (
    TEMPORARY_SUFFIX,
    landing_files,
    parquet_files,
    sync_folder,
    unique_name,
)
from feature_store.registry.dtypes import list_element
from feature_store.registry.model import Entity, FeatureView
from feature_store.sql import literal, quote

MAX_PARQUET_FILES = 8
_SQL_TYPES = {"int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN", "string": "VARCHAR",
              "timestamp": "TIMESTAMP"}


@dataclass(frozen=True)
class Compaction:
    view: str
    landing_files: int  # landing files turned into Parquet (and removed)
    rows: int
    merged_files: int  # Parquet files merged into one (and removed); 0 when none were


def columns(view: FeatureView, entity: Entity) -> dict[str, str]:
    """The log's columns and their DuckDB types: the join keys, the timestamps, the features."""
    key_type = "BIGINT" if entity.dtype == "int64" else "VARCHAR"
    result = {key: key_type for key in entity.join_keys}
    result[view.timestamp] = "TIMESTAMP"
    if view.created_timestamp:
        result[view.created_timestamp] = "TIMESTAMP"
    for feature in view.features:
        element = list_element(feature.dtype)
        result[feature.name] = f"{_SQL_TYPES[element]}[]" if element else _SQL_TYPES[feature.dtype]
    return result


def _select_list(types: dict[str, str]) -> str:
    return ", ".join(f"cast({quote(name)} as {sql_type}) as {quote(name)}" for name, sql_type in types.items())


def landing_sql(files: list[Path], types: dict[str, str]) -> str:
    spec = "{" + ", ".join(f"{literal(name)}: {literal(sql_type)}" for name, sql_type in types.items()) + "}"
    listed = ", ".join(literal(str(path)) for path in files)
    return (f"select {_select_list(types)} from read_json([{listed}], format = 'array', "
            f"columns = {spec})")


def parquet_sql(files: list[Path], types: dict[str, str]) -> str:
    listed = ", ".join(literal(str(path)) for path in files)
    return f"select {_select_list(types)} from read_parquet([{listed}], union_by_name = true)"


def log_sql(view: FeatureView, entity: Entity) -> str | None:
    """Every row of the log (Parquet and landing files, as they are now), or None when it has none."""
    assert view.push_log is not None, "only push-fed views have a log"
    types = columns(view, entity)
    parts = []
    if landing := landing_files(view.push_log):
        parts.append(landing_sql(landing, types))
    if parquet := parquet_files(view.push_log):
        parts.append(parquet_sql(parquet, types))
    return " union all ".join(parts) if parts else None


@contextmanager
def compaction_lock(log: Path) -> Iterator[None]:
    log.mkdir(parents=True, exist_ok=True)
    with open(log / ".compaction.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compact(connection: duckdb.DuckDBPyConnection, view: FeatureView, entity: Entity,
            max_parquet_files: int = MAX_PARQUET_FILES) -> Compaction:
    """Landing files into one Parquet file; Parquet files into one past `max_parquet_files`."""
    assert view.push_log is not None, "only push-fed views have a log"
    log = Path(view.push_log)
    types = columns(view, entity)
    with compaction_lock(log):
        landing = landing_files(log)  # files landing from now on wait for the next compaction
        rows = 0
        if landing:
            rows = _write_parquet(connection, landing_sql(landing, types), log)
            _remove(landing)
        merged = 0
        parquet = parquet_files(log)
        if len(parquet) > max_parquet_files:
            _write_parquet(connection, parquet_sql(parquet, types), log)
            _remove(parquet)
            merged = len(parquet)
    return Compaction(view.name, len(landing), rows, merged)


def _write_parquet(connection: duckdb.DuckDBPyConnection, sql: str, log: Path) -> int:
    """The rows of `sql` as a new Parquet file in `log`, durably, under its final name only when complete."""
    final = log / unique_name(".parquet")
    temporary = final.with_name(final.name + TEMPORARY_SUFFIX)
    connection.execute(f"copy ({sql}) to {literal(str(temporary))} (format parquet, compression zstd)")
    (rows,) = one_row(connection.execute(f"select count(*) from read_parquet({literal(str(temporary))})"))
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.rename(temporary, final)
    sync_folder(log)
    return int(rows)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink()
    for folder in {path.parent for path in paths}:
        sync_folder(folder)


def write_history_with_log(connection: duckdb.DuckDBPyConnection, view: FeatureView, entity: Entity,
                           out: Path) -> bool:
    """The view's built history together with its whole log, identical rows once, at `out` (written under
    a temporary name and renamed). So a sync or a verify sees the rows pushed since the build too.
    False (nothing written) when the log holds no row."""
    sql = log_sql(view, entity)
    if sql is None:
        return False
    types = columns(view, entity)
    built = f"select {_select_list(types)} from read_parquet({literal(history_files(view.location))})"
    keys = ", ".join(quote(key) for key in entity.join_keys)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + TEMPORARY_SUFFIX)
    connection.execute(f"copy (select * from ({built} union {sql}) order by {keys}, {quote(view.timestamp)}) "
                       f"to {literal(str(temporary))} (format parquet)")
    os.replace(temporary, out)
    return True
