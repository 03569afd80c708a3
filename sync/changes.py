"""What a sync must write: the new latest rows, diffed against what was last pushed.

The snapshot of the last sync keeps, per entity, a fingerprint of its history
(every row that counted) and of the latest row it pushed. A sync first
fingerprints the history again (an integer aggregate, cheap), and recomputes
the latest row only of entities whose history changed; of those, only rows that
differ from what was pushed become Redis commands. A full sync recomputes every
latest row. DuckDB spills to disk past its memory limit, so memory stays flat
however many entities there are. Each change carries an op:

- `s` set: one HSET of the row's non-null fields and `_ts:{view}`;
- `r` replace: a feature became null, so HDEL and HSET run together, atomically;
- `d` delete: the entity left the view; its fields of this view are removed.

Fingerprints are 64-bit hashes: two different rows hashing alike would hide a
change, with odds of about one in 10^19 per changed row.
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
    history_fingerprint_sql,
    latest_typed_sql,
    literal,
    quote,
    text_columns_sql,
)
from sync.registry import Entity, FeatureView
from sync.resp import CommandSql

OP_COLUMN = "__op"
RESP_COLUMN = "__resp"
HISTORY_COLUMN = "__history"
HASH_COLUMN = "__hash"
PRESENT_COLUMN = "__present"
HISTORY_TABLE = "history_fingerprints"
CHANGED_TABLE = "changed_keys"
LATEST_TABLE = "latest_rows"
CHANGE_BATCH_ROWS = 50_000
# Latest rows are computed for at most this many entities at a time: the arg_max
# aggregate holds every entity's row in memory and cannot spill to disk.
LATEST_PARTITION_ENTITIES = 1_000_000
SNAPSHOT_FORMAT = 3


def stage(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    as_of: datetime,
    base: Path | None,
) -> tuple[int, int]:
    """Fingerprint the history and compute the latest rows that may have changed (all without a base).

    Returns (entities in the view, entities whose latest row was recomputed).
    """
    connection.execute(f"create or replace temp table {HISTORY_TABLE} as "
                       f"{history_fingerprint_sql(view, entity, schema, as_of)}")
    only_keys = None
    (entities,) = connection.execute(f"select count(*) from {HISTORY_TABLE}").fetchone()
    to_compute = entities
    if base is not None:
        connection.execute(
            f"create or replace temp table {CHANGED_TABLE} as select coalesce(n.{KEY_COLUMN}, o.{KEY_COLUMN}) "
            f"as {KEY_COLUMN} from {HISTORY_TABLE} as n full outer join read_parquet({literal(str(base))}) as o "
            f"on n.{KEY_COLUMN} = o.{KEY_COLUMN} where n.{KEY_COLUMN} is null or o.{KEY_COLUMN} is null "
            f"or n.{HISTORY_COLUMN} <> o.{HISTORY_COLUMN}"
        )
        only_keys = CHANGED_TABLE
        (to_compute,) = connection.execute(f"select count(*) from {CHANGED_TABLE}").fetchone()
    partitions = max(1, -(-int(to_compute) // LATEST_PARTITION_ENTITIES))
    for index in range(partitions):
        sql = latest_typed_sql(view, entity, schema, as_of, only_keys, (index, partitions))
        if index == 0:
            connection.execute(f"create or replace temp table {LATEST_TABLE} as {sql}")
        else:
            connection.execute(f"insert into {LATEST_TABLE} {sql}")
    (recomputed,) = connection.execute(f"select count(*) from {LATEST_TABLE}").fetchone()
    return int(entities), int(recomputed)


def _row_fingerprint(view: FeatureView, alias: str) -> str:
    names = [quote(name) for name in view.feature_names]
    columns = ", ".join([f"{alias}.{TS_VALUE_COLUMN}", *(f"{alias}.{n}" for n in names)])
    present = " || ".join(f"case when {alias}.{n} is null then '0' else '1' end" for n in names)
    return f"hash({columns}) as {HASH_COLUMN}, {present} as {PRESENT_COLUMN}"


def write_snapshot(connection: duckdb.DuckDBPyConnection, view: FeatureView, path: Path, base: Path | None) -> None:
    """The base of the next diff: per entity, its history and latest-row fingerprints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = (f"select h.{KEY_COLUMN}, h.{HISTORY_COLUMN}, {_row_fingerprint(view, 'l')} "
             f"from {HISTORY_TABLE} as h join {LATEST_TABLE} as l on l.{KEY_COLUMN} = h.{KEY_COLUMN}")
    if base is not None:  # unchanged entities keep their fingerprints
        fresh = (f"select o.* from read_parquet({literal(str(base))}) as o anti join {CHANGED_TABLE} as c "
                 f"on o.{KEY_COLUMN} = c.{KEY_COLUMN} union all {fresh}")
    connection.execute(f"COPY ({fresh}) TO {literal(str(path))} (FORMAT parquet)")


def changes_sql(view: FeatureView, base: Path | None, full: bool) -> str:
    """Rows to write, as Redis text with their op, from `latest_rows` and the base snapshot.

    Incremental (a base, not `full`): recomputed rows whose fingerprint differs
    from the pushed one, and deletes for entities that left. Full: every row (a
    row with a null replaces, since Redis may hold an old value), plus deletes for
    entities of the base, when there is one, that left.
    """
    text = text_columns_sql(view)
    names = [quote(name) for name in view.feature_names]
    if full or base is None:
        any_null = " or ".join(f"{name} is null" for name in names)
        sql = (f"select case when {any_null} then 'r' else 's' end as {OP_COLUMN}, "
               f"cast({KEY_COLUMN} as varchar) as {ID_COLUMN}, {text} from {LATEST_TABLE}")
        if base is not None:
            nulls = ", ".join(f"null::varchar as {name}" for name in names)
            sql += (f" union all select 'd', cast(o.{KEY_COLUMN} as varchar), null::varchar, {nulls} "
                    f"from read_parquet({literal(str(base))}) as o anti join {HISTORY_TABLE} as n "
                    f"on o.{KEY_COLUMN} = n.{KEY_COLUMN}")
        return sql
    became_null = " or ".join(
        f"(substr(n.{PRESENT_COLUMN}, {i}, 1) = '0' and substr(o.{PRESENT_COLUMN}, {i}, 1) = '1')"
        for i in range(1, len(names) + 1)
    )
    changed = (
        f"select c.{KEY_COLUMN} as changed_key, "
        f"case when n.{KEY_COLUMN} is null then 'd' when o.{KEY_COLUMN} is not null and ({became_null}) "
        f"then 'r' else 's' end as {OP_COLUMN} "
        f"from {CHANGED_TABLE} as c "
        f"left join (select {KEY_COLUMN}, {_row_fingerprint(view, LATEST_TABLE)} from {LATEST_TABLE}) as n "
        f"on n.{KEY_COLUMN} = c.{KEY_COLUMN} "
        f"left join read_parquet({literal(str(base))}) as o on o.{KEY_COLUMN} = c.{KEY_COLUMN} "
        f"where (n.{KEY_COLUMN} is null and o.{KEY_COLUMN} is not null) or (n.{KEY_COLUMN} is not null and "
        f"(o.{KEY_COLUMN} is null or n.{HASH_COLUMN} <> o.{HASH_COLUMN} or n.{PRESENT_COLUMN} <> o.{PRESENT_COLUMN}))"
    )
    return (f"select c.{OP_COLUMN}, cast(c.changed_key as varchar) as {ID_COLUMN}, {text} "
            f"from ({changed}) as c left join {LATEST_TABLE} on {LATEST_TABLE}.{KEY_COLUMN} = c.changed_key")


def read_changes(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    base: Path | None,
    commands: CommandSql,
    full: bool = False,
    batch_rows: int = CHANGE_BATCH_ROWS,
) -> pa.RecordBatchReader:
    """The changes with each row's Redis command (`__resp`), op (`__op`) and entity id (a cluster
    routes each command by its key), in Arrow batches."""
    resp = commands.expression(ID_COLUMN, OP_COLUMN, TS_COLUMN)
    sql = f"select {OP_COLUMN}, {ID_COLUMN}, {resp} as {RESP_COLUMN} from ({changes_sql(view, base, full)})"
    return connection.execute(sql).fetch_record_batch(batch_rows)


def ids_missing_from(connection: duckdb.DuckDBPyConnection, ids: list[str]) -> list[str]:
    """Of `ids` (Redis key ids), those the view has no row for (Redis has them, the view not)."""
    if not ids:
        return []
    connection.register("scanned_ids", pa.table({"id": pa.array(ids, pa.string())}))
    try:
        rows = connection.execute(
            f"select id from scanned_ids anti join {HISTORY_TABLE} as n on scanned_ids.id = cast(n.{KEY_COLUMN} "
            "as varchar)"
        ).fetchall()
    finally:
        connection.unregister("scanned_ids")
    return [row[0] for row in rows]
