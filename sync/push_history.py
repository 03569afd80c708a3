"""What the sync reads for a push-fed view: its build together with the rows pushed since.

A push-fed view's dbt model reads its push log, but a build only holds what was pushed before it
ran. Before syncing such a view the sync compacts its log (landing files into Parquet, see
`feature_store.offline.push_log`) and reads the view's history as the build plus the whole log
(identical rows once), written next to the sync's record. So the latest row the sync writes is the
latest of every acknowledged push too, an entity first seen by push is not cleared as "no longer
in the view", and `verify` compares against the same history. The writes of a push-fed view are
guarded all the same (`feature_store.push.script`): a push that lands while the sync runs is never
overwritten by an older row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import duckdb

from feature_store.offline import push_log
from feature_store.registry.model import FeatureView, Registry


def with_pushed_rows(
    connection: duckdb.DuckDBPyConnection,
    registry: Registry,
    views: tuple[FeatureView, ...],
    folder: Path,
    say: Callable[[str], None] = print,
    compact: bool = True,
) -> tuple[FeatureView, ...]:
    """`views`, each push-fed one pointing at its build plus its log (when the log holds rows)."""
    result = []
    for view in views:
        if not view.takes_pushes:
            result.append(view)
            continue
        entity = registry.entity(view.entity)
        if compact:
            done = push_log.compact(connection, view, entity)
            if done.landing_files or done.merged_files:
                say(f"{view.name}: push log compacted, {done.rows:,} rows of {done.landing_files:,} landing "
                    f"file(s) into Parquet" + (f", {done.merged_files} Parquet files merged" if done.merged_files
                                               else ""))
        merged = folder / f"{view.name}.with_pushes.parquet"
        if push_log.write_history_with_log(connection, view, entity, merged):
            result.append(dataclasses.replace(view, location=str(merged)))
        else:
            result.append(view)
    return tuple(result)
