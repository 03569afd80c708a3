"""The keys each row group of a view's history holds, kept beside the view's snapshot.

When a row group leaves the history (rewritten, or re-chunked as the tail of an
appended file), its bytes are gone, but the entities it held may have changed:
its kept keys say which (see `history_layout.compare`). One file per row group
digest, `keys-<digest>.parquet`, written once: a row group that stays keeps its
file, linked into each next snapshot folder. Not every row group gets one (see
`keep_group_keys`).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from sync.history_layout import NARROW_MAX_SHARE, HistoryLayout
from sync.offline import KEY_COLUMN, literal, quote
from sync.registry import Entity

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
    missing = []
    for group, path, start, end in ranges:
        target = key_file(pending, group.digest)
        if target.exists():
            continue
        old = existing_key_file(kept, group.digest)
        if old is not None:
            os.link(old, target)
        else:
            missing.append((group, path, start, end))
    new_rows = sum(group.rows for group, *_ in ranges if group.digest not in previous)
    few = new_rows <= NARROW_MAX_SHARE * layout.rows
    largest = {file.path: max((group.rows for group in file.groups), default=0) for file in layout.files}
    last = {file.path: file.groups[-1].digest for file in layout.files if file.groups}
    for group, path, start, end in missing:
        target = key_file(pending, group.digest)
        new = group.digest not in previous
        if target.exists() or not ((few and new) or group.digest == last[path] or group.rows < largest[path]):
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
