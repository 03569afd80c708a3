"""Online writes: latest rows into Redis hashes, then the registry and sync state.

One hash per entity (`{prefix}{entity}:{id}`), one field per feature plus
`_ts:{view}`. A view's fields of one entity change together: a row without
nulls is one HSET (atomic on its own); a row with nulls must also remove those
fields, so it runs HDEL and HSET inside one small Lua script. Writes go out in
pipelines of bounded size. The registry snapshot and the view states are
published in one MULTI after the data they describe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import redis

from sync.dtypes import format_timestamp
from sync.keys import registry_key, registry_version_key, timestamp_field, view_state_key
from sync.offline import ID_COLUMN, TS_COLUMN
from sync.registry import FeatureView, Registry

DEFAULT_PIPELINE_ROWS = 2_000

# KEYS[1]: the entity hash. ARGV[1]: how many fields to delete, then those
# fields, then field/value pairs to set. Runs atomically: no reader sees a row
# half-replaced (a value gone but the new timestamp not yet there, or the reverse).
REPLACE_ROW_SCRIPT = """
local deletes = tonumber(ARGV[1])
if deletes > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2, deletes + 1)) end
if #ARGV > deletes + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, deletes + 2)) end
return 1
"""


@dataclass(frozen=True)
class ViewWriteResult:
    view: str
    entities: int
    with_nulls: int
    seconds: float


class OnlineWriter:
    """Writes views' latest rows into Redis and publishes what was written."""

    def __init__(
        self, client: redis.Redis, prefix: str = "", pipeline_rows: int = DEFAULT_PIPELINE_ROWS
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.pipeline_rows = pipeline_rows
        self.replace_row = client.register_script(REPLACE_ROW_SCRIPT)

    def write_view(
        self,
        view: FeatureView,
        batches: Iterable[pa.RecordBatch],
        on_progress: Callable[[int], None] | None = None,
    ) -> ViewWriteResult:
        started = time.perf_counter()
        key_prefix = f"{self.prefix}{view.entity}:"
        ts_field = timestamp_field(view.name)
        names = view.feature_names
        entities = with_nulls = pending = 0
        pipe = self.client.pipeline(transaction=False)
        for batch in batches:
            ids = batch.column(ID_COLUMN).to_pylist()
            stamps = batch.column(TS_COLUMN).to_pylist()
            values = [batch.column(name).to_pylist() for name in names]
            for row, entity_id in enumerate(ids):
                key = key_prefix + entity_id
                pairs: list[str] = [ts_field, stamps[row]]
                nulls: list[str] = []
                for name, column in zip(names, values, strict=True):
                    value = column[row]
                    if value is None:
                        nulls.append(name)
                    else:
                        pairs += (name, value)
                if nulls:
                    self.replace_row(keys=[key], args=[len(nulls), *nulls, *pairs], client=pipe)
                    with_nulls += 1
                else:
                    pipe.execute_command("HSET", key, *pairs)
                pending += 1
                if pending >= self.pipeline_rows:
                    pipe.execute()
                    if on_progress:
                        on_progress(pending)
                    pending = 0
            entities += len(ids)
        if pending:
            pipe.execute()
            if on_progress:
                on_progress(pending)
        return ViewWriteResult(view.name, entities, with_nulls, time.perf_counter() - started)

    def publish(self, registry: Registry, results: list[ViewWriteResult], synced_at: datetime) -> int:
        """Replace the registry snapshot and record each synced view's state, atomically.

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
                "rows": result.entities,
                "seconds": f"{result.seconds:.3f}",
                "checksum": view.checksum,
            })
        pipe.incr(registry_version_key(self.prefix))
        return int(pipe.execute()[-1])


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
