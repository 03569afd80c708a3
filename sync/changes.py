"""What a sync must write: the new latest rows, diffed against what was last pushed.

The latest rows are first written to a pending snapshot (Parquet, Redis text),
then compared with the previous snapshot in DuckDB, which spills to disk, so
memory stays flat however many entities there are. Each change carries an op:

- `s` set: one HSET of the row's non-null fields and `_ts:{view}`;
- `r` replace: a feature became null, so HDEL and HSET run together, atomically;
- `d` delete: the entity left the view; its fields of this view are removed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from sync.offline import DEFAULT_BATCH_ROWS, ID_COLUMN, TS_COLUMN, latest_rows_sql, literal, quote
from sync.registry import Entity, FeatureView

OP_COLUMN = "__op"


def write_snapshot(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    as_of: datetime,
    path: Path,
) -> int:
    """Write the view's latest rows (as Redis text) to `path`; return how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sql = latest_rows_sql(view, entity, schema, as_of)
    (count,) = connection.execute(
        f"COPY ({sql} order by {ID_COLUMN}) TO {literal(str(path))} "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    ).fetchone()
    return int(count)


def changes_sql(view: FeatureView, new: Path, old: Path | None) -> str:
    """Rows to write; with no previous snapshot (`old` None), every row, as a full sync."""
    features = [quote(name) for name in view.feature_names]
    if old is None:
        any_null = " or ".join(f"{f} is null" for f in features)
        return (
            f"select {ID_COLUMN}, case when {any_null} then 'r' else 's' end as {OP_COLUMN}, "
            f"{TS_COLUMN}, {', '.join(features)} from read_parquet({literal(str(new))})"
        )
    became_null = " or ".join(f"(n.{f} is null and o.{f} is not null)" for f in features)
    differs = " or ".join(f"n.{c} is distinct from o.{c}" for c in (TS_COLUMN, *features))
    return (
        f"select coalesce(n.{ID_COLUMN}, o.{ID_COLUMN}) as {ID_COLUMN}, "
        f"case when n.{ID_COLUMN} is null then 'd' "
        f"when o.{ID_COLUMN} is not null and ({became_null}) then 'r' else 's' end as {OP_COLUMN}, "
        f"n.{TS_COLUMN}, {', '.join(f'n.{f}' for f in features)} "
        f"from read_parquet({literal(str(new))}) as n "
        f"full outer join read_parquet({literal(str(old))}) as o on n.{ID_COLUMN} = o.{ID_COLUMN} "
        f"where n.{ID_COLUMN} is null or o.{ID_COLUMN} is null or {differs}"
    )


def read_changes(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    new: Path,
    old: Path | None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> pa.RecordBatchReader:
    return connection.execute(changes_sql(view, new, old)).fetch_record_batch(batch_rows)


def ids_missing_from(connection: duckdb.DuckDBPyConnection, ids: list[str], snapshot: Path) -> list[str]:
    """Of `ids`, those with no row in the snapshot (entities Redis has but the view does not)."""
    if not ids:
        return []
    connection.register("scanned_ids", pa.table({"id": pa.array(ids, pa.string())}))
    try:
        rows = connection.execute(
            f"select id from scanned_ids anti join read_parquet({literal(str(snapshot))}) as s "
            f"on scanned_ids.id = s.{ID_COLUMN}"
        ).fetchall()
    finally:
        connection.unregister("scanned_ids")
    return [row[0] for row in rows]
