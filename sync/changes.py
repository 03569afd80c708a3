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

from sync.offline import ID_COLUMN, TS_COLUMN, latest_rows_sql, literal, quote
from sync.registry import Entity, FeatureView
from sync.resp import CommandSql

OP_COLUMN = "__op"
RESP_COLUMN = "__resp"
CHANGE_BATCH_ROWS = 50_000


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


def changes_sql(view: FeatureView, new: Path, old: Path | None, full: bool = False) -> str:
    """Rows to write.

    Incremental (`old` given, not `full`): rows that differ from the old snapshot,
    and deletes for entities that left. Full: every new row (rows with a null
    replace, since Redis may hold an old value), plus deletes for entities of the
    old snapshot, when there is one, that left.
    """
    features = [quote(name) for name in view.feature_names]
    new_rows = f"read_parquet({literal(str(new))})"
    if full or old is None:
        any_null = " or ".join(f"{f} is null" for f in features)
        sql = (
            f"select {ID_COLUMN}, case when {any_null} then 'r' else 's' end as {OP_COLUMN}, "
            f"{TS_COLUMN}, {', '.join(features)} from {new_rows}"
        )
        if old is not None:
            nulls = ", ".join(f"null as {f}" for f in features)
            sql += (
                f" union all select o.{ID_COLUMN}, 'd', null, {nulls} from read_parquet({literal(str(old))}) as o "
                f"anti join {new_rows} as n on o.{ID_COLUMN} = n.{ID_COLUMN}"
            )
        return sql
    became_null = " or ".join(f"(n.{f} is null and o.{f} is not null)" for f in features)
    differs = " or ".join(f"n.{c} is distinct from o.{c}" for c in (TS_COLUMN, *features))
    return (
        f"select coalesce(n.{ID_COLUMN}, o.{ID_COLUMN}) as {ID_COLUMN}, "
        f"case when n.{ID_COLUMN} is null then 'd' "
        f"when o.{ID_COLUMN} is not null and ({became_null}) then 'r' else 's' end as {OP_COLUMN}, "
        f"n.{TS_COLUMN}, {', '.join(f'n.{f}' for f in features)} "
        f"from {new_rows} as n "
        f"full outer join read_parquet({literal(str(old))}) as o on n.{ID_COLUMN} = o.{ID_COLUMN} "
        f"where n.{ID_COLUMN} is null or o.{ID_COLUMN} is null or {differs}"
    )


def read_changes(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    new: Path,
    old: Path | None,
    commands: CommandSql,
    full: bool = False,
    batch_rows: int = CHANGE_BATCH_ROWS,
) -> pa.RecordBatchReader:
    """The changes with each row's Redis command (`__resp`) and op (`__op`), in Arrow batches."""
    resp = commands.expression(ID_COLUMN, OP_COLUMN, TS_COLUMN)
    sql = f"select {OP_COLUMN}, {resp} as {RESP_COLUMN} from ({changes_sql(view, new, old, full)})"
    return connection.execute(sql).fetch_record_batch(batch_rows)


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
