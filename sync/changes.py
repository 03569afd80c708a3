"""What a sync must write: the new latest rows, diffed against what was last pushed.

The latest rows are computed once into a DuckDB table (which spills to disk
past its memory limit, so memory stays flat however many entities there are).
A snapshot of them, one fingerprint per entity (a hash of the row and which
features are present), is the base the next sync diffs against; only changed
rows are rendered as Redis text and commands. Each change carries an op:

- `s` set: one HSET of the row's non-null fields and `_ts:{view}`;
- `r` replace: a feature became null, so HDEL and HSET run together, atomically;
- `d` delete: the entity left the view; its fields of this view are removed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from sync.offline import (
    ID_COLUMN,
    KEY_COLUMN,
    TS_COLUMN,
    TS_VALUE_COLUMN,
    latest_typed_sql,
    literal,
    quote,
    text_columns_sql,
)
from sync.registry import Entity, FeatureView
from sync.resp import CommandSql

OP_COLUMN = "__op"
RESP_COLUMN = "__resp"
HASH_COLUMN = "__hash"
PRESENT_COLUMN = "__present"
LATEST_TABLE = "latest_rows"
CHANGE_BATCH_ROWS = 50_000
SNAPSHOT_FORMAT = 2


def stage_latest(
    connection: duckdb.DuckDBPyConnection, view: FeatureView, entity: Entity, schema: pa.Schema, as_of: datetime
) -> int:
    """Compute the view's latest rows into the `latest_rows` table; return how many."""
    connection.execute(f"create or replace temp table {LATEST_TABLE} as "
                       f"{latest_typed_sql(view, entity, schema, as_of)}")
    (count,) = connection.execute(f"select count(*) from {LATEST_TABLE}").fetchone()
    return int(count)


def write_snapshot(connection: duckdb.DuckDBPyConnection, view: FeatureView, path: Path) -> None:
    """One fingerprint per entity of `latest_rows`: the base of the next diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join([TS_VALUE_COLUMN, *(quote(name) for name in view.feature_names)])
    present = " || ".join(f"case when {quote(name)} is null then '0' else '1' end" for name in view.feature_names)
    connection.execute(
        f"COPY (select {KEY_COLUMN}, hash({columns}) as {HASH_COLUMN}, {present} as {PRESENT_COLUMN} "
        f"from {LATEST_TABLE}) TO {literal(str(path))} (FORMAT parquet)"
    )


def changes_sql(view: FeatureView, new: Path, old: Path | None, full: bool = False) -> str:
    """Rows to write, as Redis text with their op, from `latest_rows` and the snapshots.

    Incremental (`old` given, not `full`): rows whose fingerprint differs from the
    old snapshot's, and deletes for entities that left. Full: every row (a row with
    a null replaces, since Redis may hold an old value), plus deletes for entities
    of the old snapshot, when there is one, that left.
    """
    text = text_columns_sql(view)
    names = [quote(name) for name in view.feature_names]
    new_rows = f"read_parquet({literal(str(new))})"
    if full or old is None:
        any_null = " or ".join(f"{name} is null" for name in names)
        sql = (f"select case when {any_null} then 'r' else 's' end as {OP_COLUMN}, "
               f"cast({KEY_COLUMN} as varchar) as {ID_COLUMN}, {text} from {LATEST_TABLE}")
        if old is not None:
            nulls = ", ".join(f"null::varchar as {name}" for name in names)
            sql += (f" union all select 'd', cast(o.{KEY_COLUMN} as varchar), null::varchar, {nulls} "
                    f"from read_parquet({literal(str(old))}) as o anti join {LATEST_TABLE} as n "
                    f"on o.{KEY_COLUMN} = n.{KEY_COLUMN}")
        return sql
    became_null = " or ".join(
        f"(substr(n.{PRESENT_COLUMN}, {i}, 1) = '0' and substr(o.{PRESENT_COLUMN}, {i}, 1) = '1')"
        for i in range(1, len(names) + 1)
    )
    changed = (
        f"select coalesce(n.{KEY_COLUMN}, o.{KEY_COLUMN}) as changed_key, "
        f"case when n.{KEY_COLUMN} is null then 'd' when o.{KEY_COLUMN} is not null and ({became_null}) "
        f"then 'r' else 's' end as {OP_COLUMN} "
        f"from {new_rows} as n full outer join read_parquet({literal(str(old))}) as o "
        f"on n.{KEY_COLUMN} = o.{KEY_COLUMN} "
        f"where n.{KEY_COLUMN} is null or o.{KEY_COLUMN} is null or n.{HASH_COLUMN} <> o.{HASH_COLUMN} "
        f"or n.{PRESENT_COLUMN} <> o.{PRESENT_COLUMN}"
    )
    return (f"select c.{OP_COLUMN}, cast(c.changed_key as varchar) as {ID_COLUMN}, {text} "
            f"from ({changed}) as c left join {LATEST_TABLE} on {LATEST_TABLE}.{KEY_COLUMN} = c.changed_key")


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


def ids_missing_from(connection: duckdb.DuckDBPyConnection, ids: list[str]) -> list[str]:
    """Of `ids` (Redis key ids), those with no row in `latest_rows` (Redis has them, the view not)."""
    if not ids:
        return []
    connection.register("scanned_ids", pa.table({"id": pa.array(ids, pa.string())}))
    try:
        rows = connection.execute(
            f"select id from scanned_ids anti join {LATEST_TABLE} as n on scanned_ids.id = cast(n.{KEY_COLUMN} "
            "as varchar)"
        ).fetchall()
    finally:
        connection.unregister("scanned_ids")
    return [row[0] for row in rows]
