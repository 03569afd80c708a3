"""The one way to open DuckDB over the Parquet history: in memory, in UTC, bounded.

DuckDB runs in memory, never on dbt's database file (which dbt may hold open
while it builds). The sync's connections are bounded: past their memory limit
they spill to a temporary folder, so the sync's memory stays flat however many
entities a view has.
"""

from __future__ import annotations

import itertools
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
_spill_folders = itertools.count()


def perfect_hashing(connection: duckdb.DuckDBPyConnection, on: bool) -> None:
    bits = PERFECT_HASH_BITS if on else DEFAULT_PERFECT_HASH_BITS
    connection.execute(f"SET perfect_ht_threshold = {bits}")


def one_row(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, a catalog lookup); none is a bug."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("a DuckDB query expected to return one row returned none")
    return row


def connect(threads: int | None = None, bounded: bool = True, ordered: bool = False,
            spill_directory: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB in UTC on `threads` threads (DuckDB's default: every core).

    `bounded` (the sync, training sets): memory limited by `FEATURE_STORE_DUCKDB_MEMORY`,
    spilling past it (into `spill_directory`, default a folder of this connection's own in the
    system's temporary directory), and, unless `ordered`, rows in any order where a query does not
    ask for one. `ordered` (training sets in the spine's order): an ORDER BY reaches the file
    a COPY writes, which DuckDB otherwise writes in parallel, in any order. Unbounded:
    DuckDB's own limit.
    """
    connection = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
    connection.execute("SET TimeZone = 'UTC'")
    if bounded:
        connection.execute(f"SET memory_limit = '{os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)}'")
        spill = spill_directory or _own_spill_folder()
        connection.execute(f"SET temp_directory = {literal(os.fspath(spill))}")
        if not ordered:
            connection.execute("SET preserve_insertion_order = false")
    return connection


def _own_spill_folder() -> str:
    """A folder no other connection uses: DuckDB names spill files by block size, not by connection,
    so connections sharing one folder (several syncs at once) could overwrite each other's. DuckDB
    creates the folder at its first spill and removes it when the connection closes."""
    name = f"feature_store_duckdb-{os.getpid()}-{next(_spill_folders)}"
    return os.path.join(tempfile.gettempdir(), name)


_BYTE_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def memory_limit_bytes(connection: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit in bytes, from DuckDB's own rendering of it (e.g. `488.2 MiB`)."""
    text = str(one_row(connection.execute("select current_setting('memory_limit')"))[0])
    number, _, unit = text.partition(" ")
    if unit not in _BYTE_UNITS:
        raise RuntimeError(f"DuckDB's memory_limit {text!r} is not in a known unit")
    return int(float(number) * _BYTE_UNITS[unit])
