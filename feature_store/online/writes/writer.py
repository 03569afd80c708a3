"""Online writes: changed rows into Redis hashes, then the registry and sync state.

One hash per entity (`{prefix}{entity}:{id}`), one field per feature plus
`_ts:{view}`. A view's fields of one entity change together: a row without
newly-null features is one HSET (atomic on its own, the common path); a row
where a feature became null runs HDEL and HSET in one small Lua script; an
entity that left the view loses the view's fields in one HDEL.

Commands are packed as RESP by hand and sent in chunks over one connection,
replies read back with hiredis: the same work `redis-cli --pipe` does, without
a per-command client object. On a Redis Cluster each batch is split by the
nodes owning its keys and sent to all of them at once (feature_store.online.writes.cluster_writes).
The registry, the sync reports and the generation token are
published in one MULTI after the data they describe.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import redis

from feature_store.monitoring.profile import ViewMonitoring
from feature_store.online.client import Client
from feature_store.online.keys import monitoring_key, registry_key, registry_version_key, sync_report_key
from feature_store.online.text import format_timestamp
from feature_store.online.writes.cluster_writes import ClusterRespStream, delete_fields_in_cluster
from feature_store.online.writes.resp import OP_COLUMN, RESP_COLUMN, CommandSql
from feature_store.online.writes.resp_stream import RespStream, pack
from feature_store.push.script import GUARDED_ROW_SCRIPT, GUARDED_ROW_SHA
from feature_store.registry.model import FeatureView, Registry
from feature_store.sql import ID_COLUMN

DEFAULT_PIPELINE_ROWS = 5_000

# KEYS[1]: the entity hash. ARGV[1]: how many fields to delete, then those
# fields, then field/value pairs to set. Runs atomically: no reader sees a row
# half-replaced (a value gone but the new timestamp not yet there, or the reverse).
REPLACE_ROW_SCRIPT = b"""
local deletes = tonumber(ARGV[1])
if deletes > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2, deletes + 1)) end
if #ARGV > deletes + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, deletes + 2)) end
return 1
"""


@dataclass(frozen=True)
class ViewWriteResult:
    view: str
    written: int
    deleted: int
    replaced: int
    seconds: float


class OnlineWriter:
    """Writes views' changed rows into Redis and publishes what was written."""

    def __init__(self, client: Client, prefix: str = "", pipeline_rows: int = DEFAULT_PIPELINE_ROWS) -> None:
        self.client = client
        self.prefix = prefix
        self.pipeline_rows = pipeline_rows
        # redis-py types the SHA as str; it is bytes unless the client decodes replies.
        sha: str | bytes = client.script_load(REPLACE_ROW_SCRIPT)
        self.replace_sha = sha.encode() if isinstance(sha, str) else sha
        client.script_load(GUARDED_ROW_SCRIPT)  # push-fed views' rows (see feature_store.push.script)

    def commands_for(self, view: FeatureView, delete_fields: Iterable[str] = ()) -> CommandSql:
        return CommandSql(view, f"{self.prefix}{view.entity}:", self.replace_sha.decode(), tuple(delete_fields))

    def write_changes(
        self,
        view: FeatureView,
        batches: Iterable[pa.RecordBatch],
        on_progress: Callable[[int], None] | None = None,
    ) -> ViewWriteResult:
        """Send each batch's ready-made commands (see feature_store.online.writes.resp) and check every reply."""
        started = time.perf_counter()
        written = deleted = replaced = 0
        stream = self._stream(f"{self.prefix}{view.entity}:")
        try:
            for batch in batches:
                if not batch.num_rows:
                    continue
                ops = batch.column(OP_COLUMN).to_pylist()  # (pyarrow.compute would import pandas: slow)
                deleted += ops.count("d")
                replaced += ops.count("r")
                written += batch.num_rows
                stream.send(batch.column(RESP_COLUMN), batch.column(ID_COLUMN))
                if on_progress:
                    on_progress(batch.num_rows)
        finally:
            stream.close()
        return ViewWriteResult(view.name, written - deleted, deleted, replaced, time.perf_counter() - started)

    def _stream(self, key_prefix: str) -> RespStream | ClusterRespStream:
        if isinstance(self.client, redis.RedisCluster):
            return ClusterRespStream(self.client, key_prefix, {self.replace_sha: REPLACE_ROW_SCRIPT,
                                                               GUARDED_ROW_SHA.encode(): GUARDED_ROW_SCRIPT})
        return RespStream(self.client)

    def delete_fields(self, keys: Iterable[str], fields: list[str]) -> int:
        """HDEL `fields` from each key (fields of removed features or views); returns keys changed."""
        if not fields:
            return 0
        if isinstance(self.client, redis.RedisCluster):
            return delete_fields_in_cluster(self.client, keys, fields, self.pipeline_rows)
        encoded = [f.encode() for f in fields]
        stream = RespStream(self.client)
        changed = 0
        try:
            commands = (pack(b"HDEL", key.encode(), *encoded) for key in keys)
            while chunk := list(itertools.islice(commands, self.pipeline_rows)):
                changed += sum(1 for removed in stream.send_integer_commands(chunk) if removed)
        finally:
            stream.close()
        return changed

    def publish(
        self,
        registry: Registry,
        results: list[ViewWriteResult],
        synced_at: datetime,
        generation: str,
        rows: dict[str, int],
        monitoring: Mapping[str, str] | None = None,
    ) -> str:
        """Replace the published registry, write each synced view's sync report (and its `monitoring` JSON)
        and the new generation token (the registry version readers watch), atomically; return the token."""
        pipe = self.client.pipeline(transaction=True)
        pipe.set(registry_key(self.prefix), registry.to_json())
        stamp = format_timestamp(synced_at)
        for result in results:
            view = registry.view(result.view)
            pipe.hset(sync_report_key(self.prefix, view.name), mapping={
                "last_sync_at": stamp,
                "as_of": stamp,
                "rows": rows[view.name],
                "changed": result.written + result.deleted,
                "seconds": f"{result.seconds:.3f}",
                "checksum": view.checksum,
                "generation": generation,
            })
        for name, text in (monitoring or {}).items():
            pipe.set(monitoring_key(self.prefix, name), text)
        for name in self.published_views():
            if not registry.has_view(name):
                pipe.delete(sync_report_key(self.prefix, name), monitoring_key(self.prefix, name))
        pipe.set(registry_version_key(self.prefix), generation)
        pipe.execute()
        return generation

    def published_registry(self) -> Registry | None:
        raw = self.client.get(registry_key(self.prefix))
        return Registry.from_json(raw) if raw else None

    def published_views(self) -> list[str]:
        published = self.published_registry()
        return [view.name for view in published.views] if published else []

    def generation(self) -> str:
        raw = self.client.get(registry_version_key(self.prefix))
        return raw.decode() if isinstance(raw, bytes) else (raw or "")

    def scan_entity_keys(self, entity: str, count: int = 2_000) -> Iterable[list[str]]:
        """Every key of an entity's hashes, in batches (for cleanups after a full sync or a schema change)."""
        key_prefix = f"{self.prefix}{entity}:"
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in key_prefix) + "*"
        # scan_iter walks one server, or every master of a cluster (each holds its own slots).
        batch: list[str] = []
        for key in self.client.scan_iter(match=pattern, count=count):
            batch.append(key.decode() if isinstance(key, bytes) else key)
            if len(batch) >= count:
                yield batch
                batch = []
        if batch:
            yield batch


def read_sync_reports(client: redis.Redis, prefix: str, views: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each view's published sync state (empty when never synced)."""
    names = list(views)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(sync_report_key(prefix, name))
    reports = {}
    for name, raw in zip(names, pipe.execute(), strict=True):
        reports[name] = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
    return reports


def read_monitoring(client: redis.Redis, prefix: str, views: Iterable[str]) -> dict[str, ViewMonitoring]:
    """Each view's published monitoring (absent when never synced with it)."""
    names = list(views)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.get(monitoring_key(prefix, name))
    return {name: ViewMonitoring.from_json(raw) for name, raw in zip(names, pipe.execute(), strict=True) if raw}
