"""The one way to open DuckDB over the Parquet history: in memory, in UTC, bounded.

DuckDB runs in memory, never on dbt's database file (which dbt may hold open
while it builds). The sync's connections are bounded: past their memory limit
they spill to a temporary folder, so the sync's memory stays flat however many
entities a view has.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import duckdb

from feature_store.sql import literal

MEMORY_LIMIT_ENV = "FEATURE_STORE_DUCKDB_MEMORY"
DEFAULT_MEMORY_LIMIT = "512MB"
# For the fingerprint aggregates over every entity: group by key with a directly
# indexed table when the keys' range (from the Parquet statistics) spans at most
# 2^22 values, about twice as fast as hashing for dense integer ids. Wider ranges
# keep the hash table, which spills. Not for aggregates over a few entities: the
# table spans the whole key range however few groups it holds.
PERFECT_HASH_BITS = 22
DEFAULT_PERFECT_HASH_BITS = 12  # DuckDB's own default


def perfect_hashing(connection: duckdb.DuckDBPyConnection, on: bool) -> None:
    bits = PERFECT_HASH_BITS if on else DEFAULT_PERFECT_HASH_BITS
    connection.execute(f"SET perfect_ht_threshold = {bits}")


def one_row(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, a catalog lookup); none is a bug."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("a DuckDB query expected to return one row returned none")
    return row


def connect(threads: int | None = None, bounded: bool = True, ordered: bool = False) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB in UTC on `threads` threads (DuckDB's default: every core).

    `bounded` (the sync, training sets): memory limited by `FEATURE_STORE_DUCKDB_MEMORY`,
    spilling past it, and, unless `ordered`, rows in any order where a query does not ask
    for one. `ordered` (training sets in the spine's order): an ORDER BY reaches the file a
    COPY writes, which DuckDB otherwise writes in parallel, in any order. Unbounded:
    DuckDB's own limit.
    """
    connection = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
    connection.execute("SET TimeZone = 'UTC'")
    if bounded:
        connection.execute(f"SET memory_limit = '{os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)}'")
        connection.execute(
            f"SET temp_directory = {literal(os.path.join(tempfile.gettempdir(), 'feature_store_duckdb'))}")
        if not ordered:
            connection.execute("SET preserve_insertion_order = false")
    return connection
