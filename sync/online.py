"""Online writes: changed rows into Redis hashes, then the registry and sync state.

One hash per entity (`{prefix}{entity}:{id}`), one field per feature plus
`_ts:{view}`. A view's fields of one entity change together: a row without
newly-null features is one HSET (atomic on its own, the common path); a row
where a feature became null runs HDEL and HSET in one small Lua script; an
entity that left the view loses the view's fields in one HDEL.

Commands are packed as RESP by hand and sent in chunks over one connection,
replies read back with hiredis: the same work `redis-cli --pipe` does, without
a per-command client object. The registry snapshot, the view states and the
generation token are published in one MULTI after the data they describe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import redis

from sync.changes import OP_COLUMN
from sync.dtypes import format_timestamp
from sync.keys import generation_key, registry_key, registry_version_key, timestamp_field, view_state_key
from sync.offline import ID_COLUMN, TS_COLUMN
from sync.registry import FeatureView, Registry

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


def pack(*parts: bytes) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


class RawPipeline:
    """Packed commands sent in chunks on one connection; every reply is checked."""

    def __init__(self, client: redis.Redis, chunk: int) -> None:
        self.client = client
        self.chunk = chunk
        self.buffer: list[bytes] = []

    def add(self, command: bytes) -> list | None:
        """Queue a packed command; the replies when the chunk was flushed."""
        self.buffer.append(command)
        if len(self.buffer) >= self.chunk:
            return self.flush()
        return None

    def flush(self) -> list:
        """Send the queued commands and return their replies (raising if any failed)."""
        if not self.buffer:
            return []
        commands, self.buffer = self.buffer, []
        replies = []
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([b"".join(commands)])
            errors = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as error:
                    errors.append(error)
            if errors:
                raise redis.ResponseError(f"{len(errors)} of {len(commands)} writes failed, first: {errors[0]}")
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return replies


@dataclass(frozen=True)
class ViewWriteResult:
    view: str
    written: int
    deleted: int
    replaced: int
    seconds: float


class OnlineWriter:
    """Writes views' changed rows into Redis and publishes what was written."""

    def __init__(self, client: redis.Redis, prefix: str = "", pipeline_rows: int = DEFAULT_PIPELINE_ROWS) -> None:
        self.client = client
        self.prefix = prefix
        self.pipeline_rows = pipeline_rows
        self.replace_sha = client.script_load(REPLACE_ROW_SCRIPT).encode()

    def write_changes(
        self,
        view: FeatureView,
        batches: Iterable[pa.RecordBatch],
        delete_fields: Iterable[str] = (),
        on_progress: Callable[[int], None] | None = None,
    ) -> ViewWriteResult:
        """Apply `s`/`r`/`d` rows (see sync.changes); `d` removes `delete_fields` too."""
        started = time.perf_counter()
        key_prefix = f"{self.prefix}{view.entity}:".encode()
        ts_field = timestamp_field(view.name).encode()
        names = [name.encode() for name in view.feature_names]
        all_fields = list(dict.fromkeys([ts_field, *names, *(f.encode() for f in delete_fields)]))
        hdel_all = [b"HDEL"]
        replace_head = [b"EVALSHA", self.replace_sha, b"1"]
        pipe = RawPipeline(self.client, self.pipeline_rows)
        written = deleted = replaced = pending = 0
        for batch in batches:
            ids = batch.column(ID_COLUMN).cast(pa.binary()).to_pylist()
            ops = batch.column(OP_COLUMN).to_pylist()
            stamps = batch.column(TS_COLUMN).cast(pa.binary()).to_pylist()
            columns = [batch.column(name.decode()).cast(pa.binary()).to_pylist() for name in names]
            for row, entity_id in enumerate(ids):
                key = key_prefix + entity_id
                op = ops[row]
                if op == "d":
                    pipe.add(pack(*hdel_all, key, *all_fields))
                    deleted += 1
                else:
                    pairs = [ts_field, stamps[row]]
                    nulls = []
                    for name, column in zip(names, columns, strict=True):
                        value = column[row]
                        if value is None:
                            nulls.append(name)
                        else:
                            pairs += (name, value)
                    if op == "r" and nulls:
                        pipe.add(pack(*replace_head, key, b"%d" % len(nulls), *nulls, *pairs))
                        replaced += 1
                    else:
                        pipe.add(pack(b"HSET", key, *pairs))
                    written += 1
                pending += 1
                if pending >= self.pipeline_rows:
                    pipe.flush()
                    if on_progress:
                        on_progress(pending)
                    pending = 0
        pipe.flush()
        if on_progress and pending:
            on_progress(pending)
        return ViewWriteResult(view.name, written, deleted, replaced, time.perf_counter() - started)

    def delete_fields(self, keys: Iterable[str], fields: list[str]) -> int:
        """HDEL `fields` from each key (fields of removed features or views); returns keys changed."""
        if not fields:
            return 0
        encoded = [f.encode() for f in fields]
        pipe = RawPipeline(self.client, self.pipeline_rows)
        changed = 0
        for key in keys:
            changed += sum(1 for removed in pipe.add(pack(b"HDEL", key.encode(), *encoded)) or () if removed)
        return changed + sum(1 for removed in pipe.flush() if removed)

    def publish(
        self,
        registry: Registry,
        results: list[ViewWriteResult],
        synced_at: datetime,
        generation: str,
        rows: dict[str, int],
    ) -> int:
        """Replace the registry snapshot, record each synced view's state and the generation, atomically.

        Returns the new registry version.
        """
        pipe = self.client.pipeline(transaction=True)
        pipe.set(registry_key(self.prefix), registry.to_json())
        stamp = format_timestamp(synced_at)
        for result in results:
            view = registry.view(result.view)
            pipe.hset(view_state_key(self.prefix, view.name), mapping={
                "last_sync_at": stamp,
                "as_of": stamp,
                "rows": rows[view.name],
                "changed": result.written + result.deleted,
                "seconds": f"{result.seconds:.3f}",
                "checksum": view.checksum,
                "generation": generation,
            })
        for name in self.published_views():
            if not registry.has_view(name):
                pipe.delete(view_state_key(self.prefix, name))
        pipe.set(generation_key(self.prefix), generation)
        pipe.incr(registry_version_key(self.prefix))
        return int(pipe.execute()[-1])

    def published_registry(self) -> Registry | None:
        raw = self.client.get(registry_key(self.prefix))
        return Registry.from_json(raw) if raw else None

    def published_views(self) -> list[str]:
        published = self.published_registry()
        return [view.name for view in published.views] if published else []

    def generation(self) -> str:
        raw = self.client.get(generation_key(self.prefix))
        return raw.decode() if isinstance(raw, bytes) else (raw or "")

    def scan_entity_keys(self, entity: str, count: int = 2_000) -> Iterable[list[str]]:
        """Every key of an entity's hashes, in batches (for cleanups after a full sync or a schema change)."""
        key_prefix = f"{self.prefix}{entity}:"
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in key_prefix) + "*"
        cursor = 0
        while True:
            cursor, keys = self.client.scan(cursor=cursor, match=pattern, count=count)
            if keys:
                yield [k.decode() if isinstance(k, bytes) else k for k in keys]
            if cursor == 0:
                return


def read_view_states(client: redis.Redis, prefix: str, views: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each view's published sync state (empty when never synced)."""
    names = list(views)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(view_state_key(prefix, name))
    states = {}
    for name, raw in zip(names, pipe.execute(), strict=True):
        states[name] = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
    return states
