"""What a sync must write: the new latest rows, diffed against what was last pushed.

The fingerprints of the last sync keep, per entity, a fingerprint of its history
(an XOR of the hashes of every row that counted) and of the latest row it
pushed. An incremental sync hashes the history rows again and XORs them, in one
aggregate, with the fingerprints kept: an entity whose history is
unchanged comes to zero, so only the others need their latest row recomputed;
of those, only rows that differ from what was pushed become Redis commands.
When the history was appended to (see `history_layout`), only the entities its
new row groups point at are read, and one aggregate gives both their
fingerprint and their latest row. A full sync recomputes every latest row.
DuckDB spills to disk past its memory limit, so memory stays flat however many
entities there are. Each change carries an op:

- `s` set: one HSET of the row's non-null fields and `_ts:{view}`;
- `r` replace: a feature became null, so HDEL and HSET run together, atomically;
- `d` delete: the entity left the view; its fields of this view are removed.

The fingerprints are a set of base files and of delta files holding, for entities
changed since the base was written, their new fingerprints: the history one as
a correction to XOR with the base's (so the aggregate needs no join), and a
flag for entities that left. A small change rewrites only the delta; the base
is rewritten when the delta outgrows a share of it.

The fingerprints also keep each entity's latest feature values, so the statistics
of the whole population (`sync.population_statistics`: a summary of the base,
corrected by the delta) need no recomputation of the entities that did not
change. A delta row also keeps the values of the base row it overrides, read
in the same join of the base that gives the pushed fingerprints, so the
statistics never read the base's values.

Fingerprints are 64-bit hashes: two different rows hashing alike would hide a
change, with odds of about one in 10^19 per changed row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from feature_store.offline.connection import one_row, perfect_hashing
from feature_store.offline.history import (
    HISTORY_COLUMN,
    KEY_COLUMN,
    TS_VALUE_COLUMN,
    WHOLE,
    KeyShare,
    history_fingerprint_sql,
    history_row_hashes_sql,
    keys_in_rows_sql,
    keys_reached_sql,
    latest_typed_sql,
    text_columns_sql,
)
from feature_store.offline.history_layout import NARROW_MAX_SHARE, HistoryChange
from feature_store.online.writes.resp import OP_COLUMN, RESP_COLUMN, CommandSql
from feature_store.registry.model import Entity, FeatureView
from feature_store.sql import ID_COLUMN, TS_COLUMN, literal, quote
from sync.record import Fingerprints

HASH_COLUMN = "__hash"
PRESENT_COLUMN = "__present"
FIX_COLUMN = "__fix"
GONE_COLUMN = "__gone"
HISTORY_TABLE = "history_fingerprints"
CHANGED_TABLE = "changed_keys"
LATEST_TABLE = "latest_rows"
CANDIDATE_TABLE = "candidate_keys"
CANDIDATE_LATEST_TABLE = "candidate_latest"
CHANGE_BATCH_ROWS = 50_000
# Latest rows are computed for at most this many entities at a time: the arg_max
# aggregate holds every entity's row in memory and cannot spill to disk.
LATEST_PARTITION_ENTITIES = 1_000_000
# The base is rewritten (and the delta emptied) once the delta holds this share of its rows.
COMPACT_SHARE = 0.1
FINGERPRINT_FORMAT = 6  # 5: the latest feature values beside the fingerprints; 6: the delta keeps the base's
IN_BASE_COLUMN = "__in_base"  # a delta row's entity is in the base (whose values it overrides: `base_column`)


@dataclass(frozen=True)
class Staged:
    """What `stage` found: entities in the view (a full stage), or how many joined and left (incremental)."""

    entities: int | None
    joined: int
    left: int
    recomputed: int
    narrowed: bool = False  # only the entities a `HistoryChange` points at were read


def base_column(feature: str) -> str:
    """The delta's column holding the value of `feature` in the base row it overrides (for the statistics)."""
    return quote(f"__base_{feature}")


def _files(paths: tuple[Path, ...]) -> str:
    return "read_parquet([" + ", ".join(literal(str(path)) for path in paths) + "])"


def fingerprint_keys_sql(base: Fingerprints, share: KeyShare = WHOLE) -> str:
    """`__key` of every entity the fingerprints holds (in the share)."""
    where = f"where true{share.condition(KEY_COLUMN)}"
    if not base.delta:
        return f"select {KEY_COLUMN} from {_files(base.base)} {where}"
    return (f"select {KEY_COLUMN} from {_files(base.base)} {where} and {KEY_COLUMN} not in "
            f"(select {KEY_COLUMN} from {_files(base.delta)}) union all "
            f"select {KEY_COLUMN} from {_files(base.delta)} {where} and not {GONE_COLUMN}")


def kept_values_sql(fingerprints: Fingerprints, view: FeatureView) -> str:
    """The feature values of every entity the fingerprints hold: the population of latest rows."""
    names = ", ".join(quote(name) for name in view.feature_names)
    if not fingerprints.delta:
        return f"select {names} from {_files(fingerprints.base)}"
    return (f"select {names} from {_files(fingerprints.base)} where {KEY_COLUMN} not in "
            f"(select {KEY_COLUMN} from {_files(fingerprints.delta)}) union all "
            f"select {names} from {_files(fingerprints.delta)} where not {GONE_COLUMN}")


def stage(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    as_of: datetime,
    base: Fingerprints | None,
    share: KeyShare = WHOLE,
    change: HistoryChange | None = None,
) -> Staged:
    """Find the entities whose history changed since `base` and compute their latest rows (all, without a base).

    With a `change` (where the history can differ since the base, in row groups),
    only the entities it points at are read, unless they are too many.
    """
    perfect_hashing(connection, True)
    diff = _Diff(connection, view, entity, schema, as_of, share)
    if base is None:
        connection.execute(f"create or replace temp table {HISTORY_TABLE} as "
                           f"{history_fingerprint_sql(view, entity, schema, as_of, share)}")
        (entities,) = one_row(connection.execute(f"select count(*) from {HISTORY_TABLE}"))
        recomputed = diff.compute_latest(None, int(entities))
        return Staged(int(entities), 0, 0, recomputed)
    narrowed = change is not None and diff.find_changed_among_candidates(base, change)
    if not narrowed:
        diff.find_changed(base)
    joined, left, changed = one_row(connection.execute(
        f"select count(*) filter (where __in_new and not __was), count(*) filter (where __was and not __in_new), "
        f"count(*) from {CHANGED_TABLE}"))
    if narrowed:
        (recomputed,) = one_row(connection.execute(f"select count(*) from {LATEST_TABLE}"))
    else:
        recomputed = diff.compute_latest(CHANGED_TABLE, int(changed))
    return Staged(None, int(joined), int(left), int(recomputed), narrowed)


@dataclass(frozen=True)
class _Pushed:
    """What the fingerprints says was pushed, per entity of a relation `c`: its joins and columns."""

    joins: str
    has_delta: bool
    was: str  # whether Redis holds the entity for this view
    history: str  # the history fingerprint the fingerprints keeps
    fix: str  # the delta's correction to the base's history fingerprint (0 without one)
    base_values: str  # whether the base has the entity, and its values there (see `base_column`)

    def column(self, name: str) -> str:
        """A pushed column (hash, present flags): the delta's when it has the entity, else the base's."""
        if not self.has_delta:
            return f"b.{name}"
        return f"case when d.{KEY_COLUMN} is not null then d.{name} else b.{name} end"

    def columns(self) -> str:
        return (f"{self.was} as __was, {self.column(HASH_COLUMN)} as __old_hash, "
                f"{self.column(PRESENT_COLUMN)} as __old_present, {self.fix} as __old_fix, "
                f"{self.history} as __old_history, {self.base_values}")


def _pushed(base: Fingerprints, view: FeatureView) -> _Pushed:
    """The base overridden by the delta, joined to a relation `c` on the key."""
    joins = f" left join {_files(base.base)} as b on b.{KEY_COLUMN} = c.{KEY_COLUMN}"
    # The base's values: the delta's copy when it overrides the entity already, else the base row's.
    kept = [(f"b.{KEY_COLUMN} is not null", IN_BASE_COLUMN),
            *((f"b.{quote(name)}", base_column(name)) for name in view.feature_names)]
    if base.delta:
        base_values = ", ".join(f"case when d.{KEY_COLUMN} is not null then d.{column} else {value} end as {column}"
                                for value, column in kept)
    else:
        base_values = ", ".join(f"{value} as {column}" for value, column in kept)
    if base.delta:
        joins += f" left join {_files(base.delta)} as d on d.{KEY_COLUMN} = c.{KEY_COLUMN}"
        was = f"case when d.{KEY_COLUMN} is not null then not d.{GONE_COLUMN} else b.{KEY_COLUMN} is not null end"
        fix = f"coalesce(d.{FIX_COLUMN}, 0::ubigint)"
    else:
        was, fix = f"b.{KEY_COLUMN} is not null", "0::ubigint"
    return _Pushed(joins, bool(base.delta), was, f"xor(coalesce(b.{HISTORY_COLUMN}, 0::ubigint), {fix})", fix,
                   base_values)


@dataclass(frozen=True)
class _Diff:
    """One share of one view, diffed against its kept fingerprints in DuckDB's temp tables."""

    connection: duckdb.DuckDBPyConnection
    view: FeatureView
    entity: Entity
    schema: pa.Schema
    as_of: datetime
    share: KeyShare

    def find_changed(self, base: Fingerprints) -> None:
        """`changed_keys`: entities whose history fingerprint differs from the kept fingerprints', with what was pushed.

        One aggregate over every history row and the fingerprints: an unchanged entity's
        row hashes and fingerprints XOR to zero.
        """
        in_share = f"where true{self.share.condition(KEY_COLUMN)}"
        sources = [f"select {KEY_COLUMN}, __row_hash, true as __new "
                   f"from ({history_row_hashes_sql(self.view, self.entity, self.schema, self.as_of, self.share)})",
                   f"select {KEY_COLUMN}, {HISTORY_COLUMN}, false from {_files(base.base)} {in_share}"]
        if base.delta:
            sources.append(f"select {KEY_COLUMN}, {FIX_COLUMN}, false from {_files(base.delta)} {in_share}")
        difference = (f"select {KEY_COLUMN}, bit_xor(__row_hash) as __x, bool_or(__new) as __in_new "
                      f"from ({' union all '.join(sources)}) group by {KEY_COLUMN} having bit_xor(__row_hash) <> 0")
        pushed = _pushed(base, self.view)
        self.connection.execute(
            f"create or replace temp table {CHANGED_TABLE} as select c.{KEY_COLUMN}, c.__x, c.__in_new, "
            f"{pushed.columns()} from ({difference}) as c{pushed.joins}"
        )

    def find_changed_among_candidates(self, base: Fingerprints, change: HistoryChange) -> bool:
        """`changed_keys` and `latest_rows` from the entities `change` points at; False when they are too many.

        An entity none of whose rows is in a row group that is new or that left, or
        newly reached by the clock, has the history the fingerprints fingerprinted. For
        the others, one read of their rows gives both the history fingerprint and
        the latest row.
        """
        candidates = [keys_in_rows_sql(self.entity, change.new_ranges, self.share)] if change.new_ranges else []
        if change.gone_keys:
            gone = tuple(Path(path) for path in change.gone_keys)
            candidates.append(f"select {KEY_COLUMN} from {_files(gone)} where true{self.share.condition(KEY_COLUMN)}")
        if change.reached_after is not None:
            candidates.append(keys_reached_sql(self.view, self.entity, self.schema, change.reached_after, self.as_of,
                                               self.share))
        if not candidates:
            candidates.append(f"select {KEY_COLUMN} from {_files(base.base)} where false")  # none: an empty set
        self.connection.execute(f"create or replace temp table {CANDIDATE_TABLE} as select distinct {KEY_COLUMN} "
                                f"from ({' union all '.join(candidates)})")
        (count,) = one_row(self.connection.execute(f"select count(*) from {CANDIDATE_TABLE}"))
        if count > min(LATEST_PARTITION_ENTITIES, NARROW_MAX_SHARE * max(sum(base.rows()), 1)):
            return False
        perfect_hashing(self.connection, False)
        latest = latest_typed_sql(self.view, self.entity, self.schema, self.as_of, CANDIDATE_TABLE, self.share,
                                  with_history=True)
        self.connection.execute(f"create or replace temp table {CANDIDATE_LATEST_TABLE} as "
                                f"select *, {_row_fingerprint(self.view, 'l')} from ({latest}) as l")
        pushed = _pushed(base, self.view)
        self.connection.execute(
            f"create or replace temp table {CHANGED_TABLE} as select * from (select c.{KEY_COLUMN}, "
            f"xor(coalesce(n.{HISTORY_COLUMN}, 0::ubigint), {pushed.history}) as __x, "
            f"n.{KEY_COLUMN} is not null as __in_new, {pushed.columns()} from {CANDIDATE_TABLE} as c "
            f"left join {CANDIDATE_LATEST_TABLE} as n on n.{KEY_COLUMN} = c.{KEY_COLUMN}{pushed.joins}) "
            f"where __x <> 0"
        )
        self.connection.execute(
            f"create or replace temp table {LATEST_TABLE} as select * exclude ({HISTORY_COLUMN}) "
            f"from {CANDIDATE_LATEST_TABLE} where {KEY_COLUMN} in (select {KEY_COLUMN} from {CHANGED_TABLE})"
        )
        return True

    def compute_latest(self, only_keys: str | None, to_compute: int) -> int:
        """`latest_rows` of the entities in `only_keys` (all when None), a million entities at a time."""
        perfect_hashing(self.connection, False)
        partitions = max(1, -(-to_compute // LATEST_PARTITION_ENTITIES))
        for index in range(partitions):
            part = self.share.part(index, partitions)
            latest = latest_typed_sql(self.view, self.entity, self.schema, self.as_of, only_keys, part)
            # Each row's fingerprint once, beside it: the diff and the next fingerprints both read it.
            sql = f"select *, {_row_fingerprint(self.view, 'l')} from ({latest}) as l"
            if index == 0:
                self.connection.execute(f"create or replace temp table {LATEST_TABLE} as {sql}")
            else:
                self.connection.execute(f"insert into {LATEST_TABLE} {sql}")
        (recomputed,) = one_row(self.connection.execute(f"select count(*) from {LATEST_TABLE}"))
        return int(recomputed)


def _row_fingerprint(view: FeatureView, alias: str) -> str:
    names = [quote(name) for name in view.feature_names]
    columns = ", ".join([f"{alias}.{TS_VALUE_COLUMN}", *(f"{alias}.{n}" for n in names)])
    present = " || ".join(f"case when {alias}.{n} is null then '0' else '1' end" for n in names)
    return f"hash({columns}) as {HASH_COLUMN}, {present} as {PRESENT_COLUMN}"


def needs_compaction(base: Fingerprints | None) -> bool:
    """Whether the next fingerprints should rewrite the base (the delta has grown past its share)."""
    if base is None:
        return True
    base_rows, delta_rows = base.rows()
    return delta_rows >= COMPACT_SHARE * base_rows


def write_fingerprints(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    pending: Path,
    base: Fingerprints | None,
    compact: bool,
    share: KeyShare = WHOLE,
) -> None:
    """Write this share's part of the next fingerprints into the `pending` folder.

    Full (no base): a new base from the fingerprints. Incremental: a new delta
    (the old delta, with this sync's changes merged in) beside the base files
    already linked into `pending`; or, when `compact`, a new base with every
    change applied and no delta.
    """
    name = f"{share.index}-of-{share.count}.parquet"
    names = [quote(feature) for feature in view.feature_names]
    values = "".join(f", {n}" for n in names)
    fresh = (f"select h.{KEY_COLUMN}, h.{HISTORY_COLUMN}, l.{HASH_COLUMN}, l.{PRESENT_COLUMN}"
             f"{''.join(f', l.{n}' for n in names)} "
             f"from {HISTORY_TABLE} as h join {LATEST_TABLE} as l on l.{KEY_COLUMN} = h.{KEY_COLUMN}")
    if base is None:
        _copy(connection, fresh, pending / f"base-{name}")
        return
    in_share = f"where true{share.condition(KEY_COLUMN)}"
    based = "".join(f", {column}" for column in [IN_BASE_COLUMN, *map(base_column, view.feature_names)])
    changed = (f"select c.{KEY_COLUMN}, xor(c.__old_fix, c.__x) as {FIX_COLUMN}, "
               f"xor(c.__old_history, c.__x) as {HISTORY_COLUMN}, l.{HASH_COLUMN}, l.{PRESENT_COLUMN}, "
               f"not c.__in_new as {GONE_COLUMN}{''.join(f', l.{n}' for n in names)}"
               f"{''.join(f', c.{column}' for column in [IN_BASE_COLUMN, *map(base_column, view.feature_names)])} "
               f"from {CHANGED_TABLE} as c left join {LATEST_TABLE} as l on l.{KEY_COLUMN} = c.{KEY_COLUMN}")
    if not compact:
        rows = (f"select {KEY_COLUMN}, {FIX_COLUMN}, {HASH_COLUMN}, {PRESENT_COLUMN}, {GONE_COLUMN}{values}{based} "
                f"from ({changed})")
        if base.delta:
            rows += (f" union all select {KEY_COLUMN}, {FIX_COLUMN}, {HASH_COLUMN}, {PRESENT_COLUMN}, "
                     f"{GONE_COLUMN}{values}{based} from {_files(base.delta)} {in_share} and {KEY_COLUMN} not in "
                     f"(select {KEY_COLUMN} from {CHANGED_TABLE})")
        _copy(connection, rows, pending / f"delta-{name}")
        return
    delta = _files(base.delta) if base.delta else None
    old = (f"select {KEY_COLUMN}, {HISTORY_COLUMN}, {HASH_COLUMN}, {PRESENT_COLUMN}{values} "
           f"from {_files(base.base)} {in_share}")
    if delta:
        kept = "".join(f", case when d.{KEY_COLUMN} is null then b.{n} else d.{n} end as {n}"
                       for n in [HASH_COLUMN, PRESENT_COLUMN, *names])
        old = (f"select coalesce(d.{KEY_COLUMN}, b.{KEY_COLUMN}) as {KEY_COLUMN}, "
               f"xor(coalesce(b.{HISTORY_COLUMN}, 0::ubigint), coalesce(d.{FIX_COLUMN}, 0::ubigint)) "
               f"as {HISTORY_COLUMN}{kept} "
               f"from (select * from {_files(base.base)} {in_share}) as b full outer join "
               f"(select * from {delta} {in_share}) as d on d.{KEY_COLUMN} = b.{KEY_COLUMN} "
               f"where d.{KEY_COLUMN} is null or not d.{GONE_COLUMN}")
    rows = (f"select * from ({old}) where {KEY_COLUMN} not in (select {KEY_COLUMN} from {CHANGED_TABLE}) "
            f"union all select {KEY_COLUMN}, {HISTORY_COLUMN}, {HASH_COLUMN}, {PRESENT_COLUMN}{values} "
            f"from ({changed}) where not {GONE_COLUMN}")
    _copy(connection, rows, pending / f"base-{name}")


def _copy(connection: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    connection.execute(f"COPY ({sql}) TO {literal(str(path))} (FORMAT parquet)")


def changes_sql(view: FeatureView, base: Fingerprints | None, full: bool, share: KeyShare = WHOLE) -> str:
    """Rows to write, as Redis text with their op, from `latest_rows` and the base fingerprints.

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
                    f"from ({fingerprint_keys_sql(base, share)}) as o anti join {HISTORY_TABLE} as n "
                    f"on o.{KEY_COLUMN} = n.{KEY_COLUMN}")
        return sql
    became_null = " or ".join(
        f"(substr(n.{PRESENT_COLUMN}, {i}, 1) = '0' and substr(c.__old_present, {i}, 1) = '1')"
        for i in range(1, len(names) + 1)
    )
    return (
        f"select case when n.{KEY_COLUMN} is null then 'd' when c.__was and ({became_null}) then 'r' else 's' end "
        f"as {OP_COLUMN}, cast(c.{KEY_COLUMN} as varchar) as {ID_COLUMN}, {text} "
        f"from {CHANGED_TABLE} as c left join {LATEST_TABLE} as n on n.{KEY_COLUMN} = c.{KEY_COLUMN} "
        f"where (n.{KEY_COLUMN} is null and c.__was) or (n.{KEY_COLUMN} is not null and "
        f"(not c.__was or n.{HASH_COLUMN} <> c.__old_hash or n.{PRESENT_COLUMN} <> c.__old_present))"
    )


def read_changes(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    base: Fingerprints | None,
    commands: CommandSql,
    full: bool = False,
    share: KeyShare = WHOLE,
    batch_rows: int = CHANGE_BATCH_ROWS,
) -> pa.RecordBatchReader:
    """The changes with each row's Redis command (`__resp`), op (`__op`) and entity id (a cluster
    routes each command by its key), in Arrow batches."""
    resp = commands.expression(ID_COLUMN, OP_COLUMN, TS_COLUMN)
    sql = f"select {OP_COLUMN}, {ID_COLUMN}, {resp} as {RESP_COLUMN} from ({changes_sql(view, base, full, share)})"
    return connection.execute(sql).fetch_record_batch(batch_rows)


def ids_missing_from(
    connection: duckdb.DuckDBPyConnection, share: KeyShare = WHOLE
) -> Callable[[list[str]], list[str]]:
    """A check of scanned Redis key ids: those in the share that the view has no row for.

    The share's filter is built once (the id typed as the view's key, so it hashes
    as the key does), then each batch of a scan is one anti join.
    """
    in_share = ""
    if share.count > 1:
        (key_type,) = one_row(connection.execute(
            "select data_type from duckdb_columns() where table_name = ? and column_name = ?",
            [HISTORY_TABLE, KEY_COLUMN]))
        in_share = f" where true{share.condition(f'try_cast(id as {key_type})')}"
    sql = (f"select id from (select id from scanned_ids{in_share}) as s anti join {HISTORY_TABLE} as n "
           f"on s.id = cast(n.{KEY_COLUMN} as varchar)")

    def missing(ids: list[str]) -> list[str]:
        if not ids:
            return []
        connection.register("scanned_ids", pa.table({"id": pa.array(ids, pa.string())}))
        try:
            return [row[0] for row in connection.execute(sql).fetchall()]
        finally:
            connection.unregister("scanned_ids")

    return missing
