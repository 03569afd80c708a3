"""The keys each row group of a view's history holds, kept beside the view's fingerprints.

When a row group leaves the history (rewritten, or re-chunked as the tail of an
appended file), its bytes are gone, but the entities it held may have changed:
its kept keys say which (see `history_layout.compare`). One file per row group
digest, `keys-<digest>.parquet`, written once: a row group that stays keeps its
file, linked into each next fingerprints folder. Not every row group gets one (see
`keep_group_keys`).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from feature_store.offline.history import KEY_COLUMN, keys_in_rows_sql
from feature_store.offline.history_layout import NARROW_MAX_SHARE, HistoryLayout
from feature_store.registry.model import Entity
from feature_store.sql import literal

PREFIX = "keys-"


def key_file(folder: Path, digest: str) -> Path:
    return folder / f"{PREFIX}{digest}.parquet"


def existing_key_file(folder: Path, digest: str) -> Path | None:
    path = key_file(folder, digest)
    return path if path.exists() else None


def keep_group_keys(
    connection: duckdb.DuckDBPyConnection,
    entity: Entity,
    layout: HistoryLayout,
    kept: Path,
    pending: Path,
    previous: set[str],
) -> None:
    """Give `pending` the key files of `layout`'s row groups: linked from `kept` when there, else written.

    Writing costs a read of the group's keys. When the row groups new since the
    last sync (not in `previous`) hold few rows (a history appended to), each gets
    its file; else (a first sync, a file rewritten in another order) only each
    file's tail does: its last row group and any smaller than the file's largest,
    the ones an append re-chunks. A row group without a file that leaves the
    history makes the next sync read every row, once.
    """
    ranges = layout.row_ranges()
    new_rows = sum(group.rows for group, *_ in ranges if group.digest not in previous)
    few = new_rows <= NARROW_MAX_SHARE * layout.rows
    largest = {file.path: max((group.rows for group in file.groups), default=0) for file in layout.files}
    last = {file.path: file.groups[-1].digest for file in layout.files if file.groups}
    for group, path, start, end in ranges:
        target = key_file(pending, group.digest)
        if target.exists():  # a row group listed twice
            continue
        old = existing_key_file(kept, group.digest)
        if old is not None:
            os.link(old, target)
        elif (few and group.digest not in previous) or group.digest == last[path] or group.rows < largest[path]:
            keys = keys_in_rows_sql(entity, ((path, start, end),))
            connection.execute(f"COPY (select distinct {KEY_COLUMN} from ({keys}) order by {KEY_COLUMN}) "
                               f"TO {literal(str(target))} (FORMAT parquet)")


def drop_group_keys(pending: Path) -> None:
    """Remove the key files from `pending`: the history changed while they were written."""
    for path in pending.glob(f"{PREFIX}*.parquet"):
        path.unlink()
