"""Offline reads: each view's latest rows and history fingerprints from its Parquet history, with DuckDB.

DuckDB runs in memory (never on dbt's database file, which dbt may hold open) and
also renders every value in its Redis text form, so the Python side only moves
strings. Its double-to-text cast is the shortest repr that round-trips, the same
text as Python's `repr(float)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from feature_store.offline.connection import one_row
from feature_store.offline.schema import parquet_files
from feature_store.registry.dtypes import list_element
from feature_store.registry.model import Entity, FeatureView
from feature_store.sql import ID_COLUMN, TS_COLUMN, literal, quote

DEFAULT_BATCH_ROWS = 100_000


@dataclass(frozen=True)
class KeyShare:
    """The entities whose key hashes into share `index` of `count`: one worker's or one pass's part.

    Shares nest without correlation: part j of p of share i of n is share
    i + n*j of n*p (hash % (n*p) = i + n*j exactly when hash % n = i and
    (hash // n) % p = j).
    """

    index: int = 0
    count: int = 1

    def condition(self, key: str) -> str:
        """` and <key is in the share>`, or nothing for the whole."""
        return "" if self.count == 1 else f" and hash({key}) % {self.count} = {self.index}"

    def part(self, index: int, count: int) -> KeyShare:
        return KeyShare(self.index + self.count * index, self.count * count)


WHOLE = KeyShare()


KEY_COLUMN = "__key"
HISTORY_COLUMN = "__history"
TS_VALUE_COLUMN = "__ts_value"


def _utc_timestamp(column: str, arrow_type: pa.DataType) -> str:
    """A column as a naive UTC TIMESTAMP (microseconds), whatever its Parquet flavour."""
    expression = quote(column)
    if getattr(arrow_type, "tz", None):
        expression = f"timezone('UTC', {expression})"
    return f"cast({expression} as timestamp)"


def timestamp_text(expression: str) -> str:
    """ISO 8601 UTC with `Z`; microseconds only where present."""
    return (
        f"case when epoch_us({expression}) % 1000000 = 0 "
        f"then strftime({expression}, '%Y-%m-%dT%H:%M:%SZ') "
        f"else strftime({expression}, '%Y-%m-%dT%H:%M:%S.%fZ') end"
    )


def text_expression(column: str, dtype: str) -> str:
    """SQL rendering a typed column in its Redis text form (NULL stays NULL).

    Timestamps must already be naive UTC, as `latest_typed_sql` gives them.
    """
    name = quote(column)
    if list_element(dtype) is not None:
        return f"cast(to_json({name}) as varchar)"
    if dtype == "float64":
        return f"case when isnan({name}) then 'nan' else cast(cast({name} as double) as varchar) end"
    if dtype == "timestamp":
        return timestamp_text(name)
    return f"cast({name} as varchar)"


def text_columns_sql(view: FeatureView) -> str:
    """`__ts` and every feature in Redis text, over the columns of `latest_typed_sql`."""
    features = ", ".join(f"{text_expression(f.name, f.dtype)} as {quote(f.name)}" for f in view.features)
    return f"{timestamp_text(TS_VALUE_COLUMN)} as {TS_COLUMN}, {features}"


def timestamp_literal(moment: datetime) -> str:
    return f"TIMESTAMP '{naive_utc(moment).isoformat(sep=' ')}'"


def history_filter(
    view: FeatureView, entity: Entity, schema: pa.Schema, as_of: datetime, share: KeyShare = WHOLE
) -> str:
    """The view's history rows that count at `as_of`: a key (in the share), a timestamp, not after the clock."""
    key = quote(entity.join_key)
    ts = _utc_timestamp(view.timestamp, schema.field(view.timestamp).type)
    return (f"from read_parquet({literal(parquet_files(view.location))}) "
            f"where {key} is not null and {ts} is not null and {ts} <= {timestamp_literal(as_of)}"
            f"{share.condition(key)}")


def latest_typed_sql(
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    as_of: datetime,
    only_keys: str | None = None,
    share: KeyShare = WHOLE,
    with_history: bool = False,
) -> str:
    """Each entity's latest row at or before `as_of` (whatever its age), typed.

    Columns: `__key` (the join key), `__ts_value` (the event timestamp, naive UTC)
    and the features (timestamps as naive UTC). Ties on the event timestamp go to
    the latest `created_timestamp` (a null one loses), as in the point-in-time
    join. A hash aggregate (arg_max) rather than a window: no sort per entity.
    `only_keys` names a table of `__key`s to limit the work to; `share` keeps
    the entities whose key hashes into it (a worker's part, split further so
    the aggregate's state, which cannot spill to disk, stays within memory).
    `with_history` adds `__history`, the entity's history fingerprint (see
    `history_fingerprint_sql`), from the same read.
    """
    key = quote(entity.join_key)
    ts = _utc_timestamp(view.timestamp, schema.field(view.timestamp).type)
    rank = f"{ts}"
    if view.created_timestamp:
        created = _utc_timestamp(view.created_timestamp, schema.field(view.created_timestamp).type)
        rank = f"struct_pack(event_ts := {ts}, created_ts := coalesce({created}, '-infinity'::timestamp))"
    features = ", ".join(
        f"{quote(f.name)} := "
        + (_utc_timestamp(f.name, schema.field(f.name).type) if f.dtype == "timestamp" else quote(f.name))
        for f in view.features
    )
    row = f"struct_pack({TS_VALUE_COLUMN} := {ts}, {features})"
    restrict = f" and {key} in (select {KEY_COLUMN} from {only_keys})" if only_keys else ""
    history = f", bit_xor({row_hash_sql(view)}) as {HISTORY_COLUMN}" if with_history else ""
    return (
        f"select {key} as {KEY_COLUMN}, unnest(arg_max({row}, {rank})){history} "
        f"{history_filter(view, entity, schema, as_of, share)}{restrict} group by {key}"
    )


def row_hash_sql(view: FeatureView) -> str:
    """A history row's hash: of every column that can change what the sync pushes."""
    columns = [view.timestamp, *([view.created_timestamp] if view.created_timestamp else []), *view.feature_names]
    return f"hash({', '.join(quote(c) for c in columns)})"


def history_row_hashes_sql(
    view: FeatureView, entity: Entity, schema: pa.Schema, as_of: datetime, share: KeyShare = WHOLE
) -> str:
    """`__key` and `__row_hash` of every history row that counts at `as_of`."""
    return (f"select {quote(entity.join_key)} as {KEY_COLUMN}, {row_hash_sql(view)} as __row_hash "
            f"{history_filter(view, entity, schema, as_of, share)}")


def keys_in_rows_sql(entity: Entity, ranges: tuple[tuple[str, int, int], ...], share: KeyShare = WHOLE) -> str:
    """`__key` of the rows in `ranges` ((file, first row, end row): row groups), read alone (DuckDB skips
    the row groups outside the ranges)."""
    key = quote(entity.join_key)
    files = sorted({path for path, _, _ in ranges})
    by_file = len(files) > 1

    def within(path: str, start: int, end: int) -> str:
        rows = f"file_row_number >= {start} and file_row_number < {end}"
        return f"(filename = {literal(path)} and {rows})" if by_file else f"({rows})"

    source = ", ".join(literal(path) for path in files)
    return (f"select {key} as {KEY_COLUMN} from read_parquet([{source}], filename = {str(by_file).lower()}, "
            f"file_row_number = true) where {key} is not null and "
            f"({' or '.join(within(*span) for span in ranges)}){share.condition(key)}")


def history_fingerprint_sql(
    view: FeatureView, entity: Entity, schema: pa.Schema, as_of: datetime, share: KeyShare = WHOLE
) -> str:
    """Per entity, a fingerprint of every history row that counts at `as_of` (an XOR of row hashes).

    Any row added, removed or changed (a late-arriving row included), or newly
    reached by the clock, changes it: only those entities need their latest row
    recomputed. Far cheaper than the latest row itself (an integer aggregate).
    """
    return (f"select {KEY_COLUMN}, bit_xor(__row_hash) as {HISTORY_COLUMN} "
            f"from ({history_row_hashes_sql(view, entity, schema, as_of, share)}) group by {KEY_COLUMN}")


def latest_rows_sql(view: FeatureView, entity: Entity, schema: pa.Schema, as_of: datetime) -> str:
    """The latest rows as Redis text: `__id`, `__ts` and every feature."""
    return (f"select cast({KEY_COLUMN} as varchar) as {ID_COLUMN}, {text_columns_sql(view)} "
            f"from ({latest_typed_sql(view, entity, schema, as_of)})")


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def read_latest(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    as_of: datetime,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> pa.RecordBatchReader:
    """Stream the latest rows in Arrow batches of at most `batch_rows`."""
    return connection.execute(latest_rows_sql(view, entity, schema, as_of)).fetch_record_batch(batch_rows)


def rows_reached(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    entity: Entity,
    schema: pa.Schema,
    after: datetime,
    until: datetime,
) -> int:
    """History rows dated after one clock and at or before another (Parquet statistics skip the rest)."""
    (count,) = one_row(connection.execute(
        f"select count(*) from ({keys_reached_sql(view, entity, schema, after, until)})"))
    return int(count)


def keys_reached_sql(
    view: FeatureView, entity: Entity, schema: pa.Schema, after: datetime, until: datetime, share: KeyShare = WHOLE
) -> str:
    """`__key` of the history rows dated after one clock and at or before another."""
    ts = _utc_timestamp(view.timestamp, schema.field(view.timestamp).type)
    return (f"select {quote(entity.join_key)} as {KEY_COLUMN} {history_filter(view, entity, schema, until, share)} "
            f"and {ts} > {timestamp_literal(after)}")
