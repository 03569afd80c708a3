"""One view's sync, for one share of its entities: find changes, write them, write the next fingerprints.

A share is the entities whose key hashes into it (see `offline.KeyShare`). With
one worker the share is the whole view; with `--workers N` each of N processes
runs this for its own share, with its own DuckDB and Redis connection, and the
shares together are exactly the view. Everything a job needs travels in
`ShareJob` (picklable), so the same code runs in the sync's process or in a
worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from feature_store.offline import history as offline
from feature_store.offline.history import KeyShare
from feature_store.offline.history_layout import HistoryChange
from feature_store.online.keys import timestamp_field
from feature_store.online.writes.writer import OnlineWriter
from feature_store.registry.model import Entity, FeatureView
from sync.changes import ids_missing_from, read_changes, stage, write_fingerprints
from sync.push_history import clear_outside_guarded
from sync.record import Fingerprints


@dataclass(frozen=True)
class ShareJob:
    view: FeatureView
    entity: Entity
    schema: pa.Schema
    as_of: datetime
    base: Fingerprints | None  # what Redis holds for the view; None when unknown
    full: bool  # write every row, not only changes
    compact: bool  # rewrite the kept fingerprints' base (else only its delta)
    scan: bool  # after a full write, clear entities Redis has that the view does not
    old_fields: tuple[str, ...]  # fields an earlier sync of this view may have written
    pending: Path  # the folder of the next fingerprints
    share: KeyShare = offline.WHOLE
    change: HistoryChange | None = None  # where the history changed since the base, when known

    @property
    def diff_base(self) -> Fingerprints | None:
        """What the changes are found against: the base, unless every row is written."""
        return None if self.full else self.base


@dataclass(frozen=True)
class ShareResult:
    entities: int | None  # in the share (a full stage); None when only the change is known
    joined: int
    left: int
    recomputed: int  # entities whose latest row was computed (all of them in a full sync)
    written: int
    deleted: int
    replaced: int
    seconds: float
    narrowed: bool = False  # only the entities `ShareJob.change` points at were read


def sync_share(
    job: ShareJob,
    writer: OnlineWriter,
    connection: duckdb.DuckDBPyConnection,
    on_progress: Callable[[int], None] | None = None,
    on_staged: Callable[[int | None], None] | None = None,
) -> ShareResult:
    """Sync the job's share; `on_staged` gets the share's entity count (full) before the writes start."""
    view = job.view
    staged = stage(connection, view, job.entity, job.schema, job.as_of, job.diff_base, job.share, job.change)
    if on_staged:
        on_staged(staged.entities)
    write_fingerprints(connection, view, job.pending, job.diff_base, job.compact, job.share)
    commands = writer.commands_for(view, delete_fields=job.old_fields)
    changes = read_changes(connection, view, job.base, commands, full=job.full, share=job.share)
    result = writer.write_changes(view, changes, on_progress=on_progress)
    deleted = result.deleted
    if job.scan:
        deleted += _clear_entities_outside(job, writer, connection)
    return ShareResult(staged.entities, staged.joined, staged.left, staged.recomputed, result.written, deleted,
                       result.replaced, result.seconds, staged.narrowed)


def _clear_entities_outside(job: ShareJob, writer: OnlineWriter, connection: duckdb.DuckDBPyConnection) -> int:
    """After a full write: remove the view's fields from entities (of this share) no longer in the view."""
    view = job.view
    fields = list(dict.fromkeys([timestamp_field(view.name), *view.feature_names, *job.old_fields]))
    prefix = f"{writer.prefix}{view.entity}:"
    cleared = 0
    missing = ids_missing_from(connection, job.share)
    for keys in writer.scan_entity_keys(view.entity):
        outside = missing([key[len(prefix):] for key in keys])
        if view.takes_pushes:
            cleared += clear_outside_guarded(writer.client, view, [prefix + entity_id for entity_id in outside],
                                             fields, job.entity.join_key, prefix)
        else:
            cleared += writer.delete_fields((prefix + entity_id for entity_id in outside), fields)
    return cleared
