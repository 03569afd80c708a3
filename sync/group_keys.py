"""The keys each row group of a view's history holds, kept beside the view's snapshot.

When a row group leaves the history (rewritten, or re-chunked as the tail of an
appended file), its bytes are gone, but the entities it held may have changed:
its kept keys say which (see `history_layout.compare`). One file per row group
digest, `keys-<digest>.parquet`, written once: a row group that stays keeps its
file, linked into each next snapshot folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from sync.history_layout import HistoryLayout
from sync.offline import KEY_COLUMN, literal, quote
from sync.registry import Entity

PREFIX = "keys-"


def key_file(folder: Path, digest: str) -> Path:
    return folder / f"{PREFIX}{digest}.parquet"


def existing_key_file(folder: Path, digest: str) -> Path | None:
    path = key_file(folder, digest)
    return path if path.exists() else None


def keep_group_keys(
    connection: duckdb.DuckDBPyConnection, entity: Entity, layout: HistoryLayout, kept: Path, pending: Path
) -> None:
    """Give `pending` the key file of every row group of `layout`: linked from `kept` when there, else written."""
    done: set[str] = set()
    for group, path, start, end in layout.row_ranges():
        if group.digest in done:
            continue
        done.add(group.digest)
        target = key_file(pending, group.digest)
        if target.exists():
            continue
        old = existing_key_file(kept, group.digest)
        if old is not None:
            os.link(old, target)
            continue
        key = quote(entity.join_key)
        connection.execute(
            f"COPY (select distinct {key} as {KEY_COLUMN} from read_parquet({literal(path)}, file_row_number = true) "
            f"where {key} is not null and file_row_number >= {start} and file_row_number < {end} "
            f"order by {KEY_COLUMN}) TO {literal(str(target))} (FORMAT parquet)")


def drop_group_keys(pending: Path) -> None:
    """Remove the key files from `pending`: the history changed while they were written."""
    for path in pending.glob(f"{PREFIX}*.parquet"):
        path.unlink()
