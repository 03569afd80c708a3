"""A view's Parquet history as row groups: what a sync read, and what changed since.

A history that grows by appending (new events at the end, as dbt and Spark
write a table built in time order) keeps most of its row groups byte for byte:
the writer only re-chunks its tail. Each row group is digested (its bytes, with
the file's schema), and the keys it holds are kept (see `group_keys`). The next
sync compares the digests: only entities with a row in a row group that is new
or that left, or reached by a later clock, can have a different history, and
only those are read (see `changes.stage`).

Digests are read from the bytes in one pass that also gives the digest of the
whole history (`digest`, which lets an untouched view be skipped). When a file
is replaced while a sync reads it, the sync keeps no layout, and the next one
reads every row.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

from feature_store.offline.schema import part_files
from feature_store.registry.model import Entity, FeatureView

# Past this share of the history in new row groups, reading every row costs less.
NARROW_MAX_SHARE = 0.25
# Columns DuckDB adds when asked for row numbers: a history with such a column is read whole.
_ROW_NUMBER_COLUMNS = {"filename", "file_row_number"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RowGroup:
    """One row group: a digest of its bytes, schema and the view's hashed columns, and its rows."""

    digest: str
    rows: int

    def to_json(self) -> list:
        return [self.digest, self.rows]

    @classmethod
    def from_json(cls, data: list) -> RowGroup:
        return cls(str(data[0]), int(data[1]))


@dataclass(frozen=True)
class FileLayout:
    path: str
    groups: tuple[RowGroup, ...]  # in the footer's order, the order of `file_row_number` (none: not grouped)
    stat: tuple[int, int, int]  # inode, size, modification time: a file replaced changes them
    rows: int = 0


@dataclass(frozen=True)
class HistoryLayout:
    digest: str  # of every byte of the history and of the columns the sync hashes: equal means same rows
    files: tuple[FileLayout, ...]
    grouped: bool  # whether every file's row groups could be told apart (else no group digests)

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    def groups(self) -> list[RowGroup]:
        return [group for file in self.files for group in file.groups]

    def row_ranges(self) -> list[tuple[RowGroup, str, int, int]]:
        """Each row group with its file and rows (first, end), as DuckDB numbers them (`file_row_number`)."""
        ranges = []
        for file in self.files:
            row = 0
            for group in file.groups:
                ranges.append((group, file.path, row, row + group.rows))
                row += group.rows
        return ranges

    def unchanged_on_disk(self) -> bool:
        """Whether every file is still the one this layout read (not replaced or rewritten since)."""
        try:
            return all(_stat(os.stat(file.path)) == file.stat for file in self.files)
        except OSError:
            return False


@dataclass(frozen=True)
class HistoryChange:
    """Where the rows that changed since the last sync can be: what `changes.stage` reads instead of everything."""

    new_ranges: tuple[tuple[str, int, int], ...]  # (file, first row, end row) of row groups that are new
    gone_keys: tuple[str, ...]  # files of the keys of row groups that left
    reached_after: datetime | None  # the last sync's clock, when this one is later
    new_rows: int

    def describe(self) -> str:
        return f"{self.new_rows:,} in new row groups"


def read_layout(view: FeatureView, entity: Entity) -> HistoryLayout:
    """Digest the view's history, whole and per row group, in one read of its bytes.

    The digests also cover what the sync hashes a row by (key, timestamps,
    features), so a definition that reads the same bytes differently changes them.
    """
    hashed = [entity.join_key, view.timestamp, view.created_timestamp or "",
              *(f"{feature.name}:{feature.dtype}" for feature in view.features)]
    salt = "\0".join(hashed).encode()
    whole = hashlib.blake2b(salt, digest_size=16)
    files, grouped = [], True
    for path in part_files(view.location):
        whole.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            stat = _stat(os.fstat(handle.fileno()))  # of the very file read, even if replaced meanwhile
            metadata = pq.ParquetFile(handle).metadata
            spans = _group_spans(metadata, stat[1])
            if spans is None or _ROW_NUMBER_COLUMNS & set(metadata.schema.names):
                grouped = False
                handle.seek(0)
                whole.update(hashlib.file_digest(handle, "blake2b").digest())
                groups: tuple[RowGroup, ...] = ()
            else:
                groups = _digest_groups(metadata, handle, spans, salt, whole)
        files.append(FileLayout(str(path), groups, stat, metadata.num_rows))
    return HistoryLayout(whole.hexdigest(), tuple(files), grouped)


def _stat(status: os.stat_result) -> tuple[int, int, int]:
    return status.st_ino, status.st_size, status.st_mtime_ns


def _group_spans(metadata: pq.FileMetaData, size: int) -> list[tuple[int, int]] | None:
    """Each row group's byte span: from its first page to the next group's first (the last: to its end).

    None when the footer's offsets do not order the groups strictly, or a group's
    chunks reach past the next group's start (interleaved): then a byte could be
    left out of its group's digest unnoticed.
    """
    starts, ends = [], []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        if group.num_columns == 0:
            return None
        first, last = size, 0
        for column in range(group.num_columns):
            chunk = group.column(column)
            start = chunk.data_page_offset
            if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                start = min(start, chunk.dictionary_page_offset)
            first, last = min(first, start), max(last, start + chunk.total_compressed_size)
        starts.append(first)
        ends.append(last)
    order = sorted(range(len(starts)), key=starts.__getitem__)
    ordered = [starts[i] for i in order]
    if ordered and (ordered[0] < 4 or any(a >= b for a, b in pairwise(ordered))):
        return None
    spans: list[tuple[int, int]] = [(0, 0)] * len(starts)
    for position, index in enumerate(order):
        end = ordered[position + 1] if position + 1 < len(order) else ends[index]
        if end <= starts[index] or end > size or ends[index] > end:  # a chunk beyond its span: interleaved
            return None
        spans[index] = (starts[index], end)
    return spans


def _digest_groups(
    metadata: pq.FileMetaData, handle: BinaryIO, spans: list[tuple[int, int]], salt: bytes, whole
) -> tuple[RowGroup, ...]:
    """Digest each row group's span, and feed the whole-history digest the spans' digests and the bytes
    between them (a chunk at a time: memory stays flat however large the file)."""
    columns = (metadata.schema.column(i) for i in range(metadata.num_columns))
    schema = salt + "\0".join(
        f"{c.path}:{c.physical_type}:{c.logical_type}:{c.converted_type}:{c.max_definition_level}:"
        f"{c.max_repetition_level}" for c in columns).encode()
    digests: dict[int, str] = {}
    position = 0
    for index, (start, end) in sorted(enumerate(spans), key=lambda item: item[1][0]):
        _feed(handle, position, start, whole)
        digest = hashlib.blake2b(schema, digest_size=16)
        _feed(handle, start, end, digest)
        whole.update(digest.digest())
        position = end
        digests[index] = digest.hexdigest()
    _feed(handle, position, None, whole)
    return tuple(RowGroup(digests[i], metadata.row_group(i).num_rows) for i in range(metadata.num_row_groups))


def _feed(handle: BinaryIO, start: int, end: int | None, digest) -> None:
    """Hash the bytes from `start` to `end` (None: the end of the file)."""
    handle.seek(start)
    left = None if end is None else end - start
    while left is None or left > 0:
        chunk = handle.read(_CHUNK if left is None else min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        if left is not None:
            left -= len(chunk)


def compare(
    previous: list[RowGroup],
    last_as_of: datetime | None,
    layout: HistoryLayout,
    as_of: datetime,
    keys_of: Callable[[str], Path | None],
) -> HistoryChange | None:
    """Where the history can have changed since the layout `previous`, read at `last_as_of`.

    `keys_of` finds the kept keys of a row group by digest. None when every row
    must be read: no earlier layout, a clock moved back, a row group that left
    without its keys kept, or too much of the history new.
    """
    if not previous or last_as_of is None or not layout.grouped or as_of < last_as_of:
        return None
    kept = Counter(group.digest for group in previous)
    new_ranges: list[tuple[str, int, int]] = []
    new_rows = 0
    for group, path, start, end in layout.row_ranges():
        if kept[group.digest] > 0:
            kept[group.digest] -= 1
        else:
            _add_range(new_ranges, path, start, end)
            new_rows += group.rows
    if new_rows > NARROW_MAX_SHARE * layout.rows:
        return None
    gone = []
    for digest in +kept:
        keys = keys_of(digest)
        if keys is None:
            return None
        gone.append(str(keys))
    return HistoryChange(tuple(new_ranges), tuple(gone), last_as_of if as_of > last_as_of else None, new_rows)


def _add_range(ranges: list[tuple[str, int, int]], path: str, start: int, end: int) -> None:
    """Append a row range, merged with the previous one when they touch (fewer conditions to scan)."""
    if ranges and ranges[-1][0] == path and ranges[-1][2] == start:
        ranges[-1] = (path, ranges[-1][1], end)
    else:
        ranges.append((path, start, end))
