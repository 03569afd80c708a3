"""`python -m sync stream`: push-fed views fed from a Redis Stream, through the push path.

Each stream entry has a `view` field (a push-fed view) and a `rows` field: JSON, a list of row
objects or columns, as `POST /push/{view}` takes. The consumer reads with a consumer group, checks
the rows against the published registry, keeps them in the view's durable push log, writes them to
Redis through the guarded script (a value never goes backwards), and only then acknowledges the
entries (XACK). Killed anywhere, it resumes where it stopped: on start it first takes the entries
delivered to it but never acknowledged, then new ones. A redelivered entry is harmless: its rows'
created timestamp (when the view has one and the producer left it out) is the entry's id time, so
the rows logged again are identical to the first ones (kept once), and the guarded write leaves
Redis as it is. An entry that cannot be pushed (bad rows, a view that takes none) goes to the
stream `<stream>:rejected` with the reason, and is acknowledged, so it never blocks the stream.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from feature_store.clock import now as clock_now
from feature_store.errors import FeatureStoreError
from feature_store.online.keys import registry_key
from feature_store.push import ingest
from feature_store.push.rows import NotPushFed, PushBatch, PushRefused, check_rows
from feature_store.registry.model import Registry

DEFAULT_STREAM = "feature_store:push"
DEFAULT_GROUP = "feature_store"


@dataclass
class StreamStats:
    entries: int = 0
    rows: int = 0
    applied: int = 0
    rejected: int = 0
    batches: int = 0
    seconds: float = 0.0
    views: dict[str, int] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(replies: Any) -> list[tuple[Any, dict[Any, Any]]]:
    """XREADGROUP's entries of the one stream read (a list of [stream, entries] in RESP2, a map in RESP3)."""
    if not replies:
        return []
    if isinstance(replies, dict):
        (entries,) = replies.values()
        return list(entries[0] if entries and isinstance(entries[0], list) else entries)
    return list(replies[0][1])


def entry_time(entry_id: str, sequence: int) -> datetime:
    """The time the entry was added (its id's milliseconds), a microsecond apart per row within it."""
    milliseconds, _, _ = entry_id.partition("-")
    return datetime.fromtimestamp(int(milliseconds) / 1000, UTC) + timedelta(microseconds=sequence)


class StreamConsumer:
    def __init__(self, client: redis.Redis, prefix: str, stream: str = DEFAULT_STREAM,
                 group: str = DEFAULT_GROUP, consumer: str | None = None, batch: int = 500,
                 say: Callable[[str], None] = print) -> None:
        self.client = client
        self.prefix = prefix
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch = batch
        self.say = say
        self.stats = StreamStats()
        self._registry: Registry | None = None
        try:
            client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def registry(self) -> Registry:
        raw = self.client.get(registry_key(self.prefix))
        if not raw:
            raise FeatureStoreError("no feature registry in Redis: run `python -m sync` first")
        self._registry = Registry.from_json(raw)
        return self._registry

    def run(self, idle_exit: float | None = None, max_entries: int | None = None, block_ms: int = 1000) -> StreamStats:
        """Consume until `max_entries` were handled or nothing came for `idle_exit` seconds (forever when None)."""
        started = time.perf_counter()
        idle_since = time.monotonic()
        pending_first = True  # what was delivered to this consumer before a restart, then new entries
        while max_entries is None or self.stats.entries < max_entries:
            count = self.batch if max_entries is None else min(self.batch, max_entries - self.stats.entries)
            replies: Any = self.client.xreadgroup(self.group, self.consumer,
                                                  {self.stream: "0" if pending_first else ">"},
                                                  count=count, block=None if pending_first else block_ms)
            entries = _entries(replies)
            if pending_first and not entries:
                pending_first = False
                continue
            if not entries:
                if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                    break
                continue
            idle_since = time.monotonic()
            self.handle([(_text(entry_id), fields) for entry_id, fields in entries])
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def handle(self, entries: list[tuple[str, dict[Any, Any]]]) -> None:
        """Push the entries' rows (one log file and one round trip per view), then acknowledge them."""
        registry = self._registry or self.registry()
        by_view: dict[str, list[PushBatch]] = {}
        rejected: list[tuple[str, str, dict[Any, Any]]] = []
        for entry_id, fields in entries:
            decoded = {_text(k): _text(v) for k, v in fields.items()}
            try:
                batch = self._check(registry, entry_id, decoded)
            except NotPushFed:
                registry = self.registry()  # perhaps the view was published since
                try:
                    batch = self._check(registry, entry_id, decoded)
                except (NotPushFed, PushRefused, ValueError) as error:
                    rejected.append((entry_id, str(error), decoded))
                    continue
            except (PushRefused, ValueError) as error:
                rejected.append((entry_id, str(error), decoded))
                continue
            by_view.setdefault(batch.view.name, []).append(batch)
        for name, batches in by_view.items():
            merged = PushBatch.concat(batches)
            ingest.keep(merged)
            self.stats.applied += ingest.write_online(self.client, self.prefix, merged)
            self.stats.rows += merged.count
            self.stats.views[name] = self.stats.views.get(name, 0) + merged.count
        pipe = self.client.pipeline(transaction=True)
        for entry_id, reason, fields in rejected:
            pipe.xadd(f"{self.stream}:rejected", {"entry": entry_id, "reason": reason, **fields})
        pipe.xack(self.stream, self.group, *[entry_id for entry_id, _ in entries])
        pipe.execute()
        for entry_id, reason, _ in rejected:
            self.say(f"entry {entry_id} rejected (moved to {self.stream}:rejected): {reason}")
        self.stats.entries += len(entries)
        self.stats.rejected += len(rejected)
        self.stats.batches += 1

    def _check(self, registry: Registry, entry_id: str, fields: dict[str, str]) -> PushBatch:
        view = fields.get("view")
        if not view or "rows" not in fields:
            raise ValueError("an entry needs a `view` field and a `rows` field (JSON rows or columns)")
        rows = json.loads(fields["rows"])
        return check_rows(registry, view, rows, clock_now(),
                          lambda count: [entry_time(entry_id, sequence) for sequence in range(count)])
