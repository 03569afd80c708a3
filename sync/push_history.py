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
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import redis

from feature_store.offline import push_log
from feature_store.online.client import Client
from feature_store.online.keys import timestamp_field
from feature_store.push.log import landing_files
from feature_store.push.script import GUARDED_CLEAR_SCRIPT
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


def ids_in_landing_files(view: FeatureView, entity_key: str) -> set[str]:
    """The entity ids of the rows that landed in the view's log since its last compaction, as Redis key text."""
    assert view.push_log is not None, "only push-fed views have a log"
    ids: set[str] = set()
    for path in landing_files(view.push_log):
        try:
            text = path.read_text()
        except FileNotFoundError:  # compacted meanwhile: its rows are in the history already
            continue
        ids.update(str(row[entity_key]) for row in json.loads(text))
    return ids


def clear_outside_guarded(client: Client, view: FeatureView, keys: list[str], fields: list[str],
                          entity_key: str, key_prefix: str) -> int:
    """Remove a push-fed view's fields from `keys` (entities outside its history) unless a push reached them:
    an entity whose rows landed since the history was read is kept, and so is one whose `_ts:<view>`
    changed since it was read here (a push between this read and the removal)."""
    if not keys:
        return 0
    ts_field = timestamp_field(view.name)
    seen = client.pipeline(transaction=False)
    for key in keys:
        seen.hget(key, ts_field)
    stamps = seen.execute()
    pushed = ids_in_landing_files(view, entity_key)  # after the read above: a push landed before it is here
    script = client.register_script(GUARDED_CLEAR_SCRIPT)
    chosen = [(key, stamp.decode() if isinstance(stamp, bytes) else (stamp or ""))
              for key, stamp in zip(keys, stamps, strict=True) if key[len(key_prefix):] not in pushed]
    if isinstance(client, redis.RedisCluster):  # a cluster pipeline runs no scripts: one call per key
        return sum(1 for key, text in chosen if script(keys=[key], args=[ts_field, text, *fields]))
    pipe = client.pipeline(transaction=False)
    for key, text in chosen:
        script(keys=[key], args=[ts_field, text, *fields], client=pipe)
    return sum(1 for reply in pipe.execute() if reply) if chosen else 0
