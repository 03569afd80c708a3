"""The sync's writes on a Redis Cluster: each batch split by node, every node written at once.

A batch of ready-made commands (feature_store.online.writes.resp) is routed by its keys' hash slots
(feature_store.online.writes.slots, vectorized) over the slot map of redis-py's cluster client. Each
node gets its share as one payload on its own connection (feature_store.online.writes.resp_stream),
all nodes in parallel threads (socket I/O releases the GIL), so a batch costs
one round trip per node whatever the number of slots it spans.

A command refused with MOVED or ASK (its slot moved: a failover, a resharding),
TRYAGAIN, CLUSTERDOWN, LOADING or NOSCRIPT is sent again, after the slot map is
reloaded, through redis-py's cluster client, which follows redirections itself;
any other error fails the sync. Every command sets final values or deletes
fields, so sending one twice is harmless. A node that drops its connection
fails the sync with the node's name (`python -m sync` retries the whole run).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import redis
from redis.exceptions import ClusterDownError

from feature_store.online.writes.arrow_strings import string_offsets
from feature_store.online.writes.resp_stream import RespStream, failed_writes, payload_of
from feature_store.online.writes.slots import SLOTS, key_slots

RESENT = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "NOSCRIPT")
MAX_PARALLEL_NODES = 16


def parse_command(data: bytes) -> list[bytes]:
    """A RESP command (`*n` then `n` bulk strings) back into its arguments."""
    head, _, rest = data.partition(b"\r\n")
    arguments = []
    position = 0
    for _ in range(int(head[1:])):
        end = rest.index(b"\r\n", position)
        size = int(rest[position + 1:end])
        arguments.append(rest[end + 2:end + 2 + size])
        position = end + 4 + size
    return arguments


class ClusterRespStream:
    """`RespStream` for a cluster: `send(commands, ids)` with each command's entity id (its key's suffix)."""

    def __init__(self, client: redis.RedisCluster, key_prefix: str, scripts: dict[bytes, bytes]) -> None:
        self.client = client
        self.key_prefix = key_prefix.encode()
        self.scripts = scripts  # sha -> body, to load on a node that answers NOSCRIPT
        self.streams: dict[str, RespStream] = {}
        self.threads = ThreadPoolExecutor(MAX_PARALLEL_NODES, thread_name_prefix="cluster-write")
        self._load_slot_map()

    def _load_slot_map(self) -> None:
        names: list[str] = []
        owners = np.full(SLOTS, -1, dtype=np.int32)
        for slot, nodes in self.client.nodes_manager.slots_cache.items():
            name = nodes[0].name
            if name not in names:
                names.append(name)
            owners[slot] = names.index(name)
        orphans = np.flatnonzero(owners < 0)
        if len(orphans):
            raise ClusterDownError(
                f"{len(orphans)} hash slots (first {orphans[0]}) have no master: the cluster is incomplete; "
                "repair it (`redis-cli --cluster check HOST:PORT`) and sync again"
            )
        self.owners, self.names = owners, names

    def _node(self, name: str) -> RespStream:
        stream = self.streams.get(name)
        if stream is None:
            node = self.client.get_node(node_name=name)
            stream = self.streams[name] = RespStream(self.client.get_redis_connection(node))
        return stream

    def send(self, commands: pa.Array, ids: pa.Array) -> None:
        """Send each command to the master of its key's slot; raise when any failed for good."""
        payload = payload_of(commands)
        owner = self.owners[key_slots(self.key_prefix, ids)]
        offsets = string_offsets(commands)
        # Each byte of the payload tagged with its command's node: one mask per node picks its share.
        byte_owner = np.repeat(owner.astype(np.uint16), np.diff(offsets))
        data = np.frombuffer(payload, dtype=np.uint8)
        shares = []
        for node in np.unique(owner):
            name = self.names[node]
            stream = self._node(name)
            positions = np.flatnonzero(owner == node)
            share = data[byte_owner == node].tobytes()
            shares.append((name, positions, self.threads.submit(stream.send_payload, share, len(positions))))
        failures: list[tuple[int, str]] = []
        broken: tuple[str, redis.RedisError] | None = None
        for name, positions, future in shares:  # wait for every node before raising
            try:
                failures += [(int(positions[index]), text) for index, text in future.result()]
            except redis.RedisError as error:
                broken = broken or (name, error)
        if broken:
            name, cause = broken
            raise type(cause)(f"cluster node {name}: {cause}") from cause
        if failures:
            self._resend(commands, sorted(failures))

    def _resend(self, commands: pa.Array, failures: list[tuple[int, str]]) -> None:
        final = [failure for failure in failures if failure[1].split(" ", 1)[0] not in RESENT]
        if final:
            raise failed_writes(final, len(commands))
        self.client.nodes_manager.initialize()  # a slot moved: learn where
        self._load_slot_map()
        for position, _ in failures:
            arguments = parse_command(commands[position].as_py().encode())
            try:
                self.client.execute_command(*arguments)
            except redis.exceptions.NoScriptError:
                self.client.script_load(self.scripts[arguments[1]])  # a master that never saw the script
                self.client.execute_command(*arguments)

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()
        self.threads.shutdown(wait=True)


def delete_fields_in_cluster(
    client: redis.RedisCluster, keys: Iterable[str], fields: list[str], chunk: int
) -> int:
    """HDEL `fields` from each key, one pipeline round trip per node per `chunk` keys; keys changed."""
    changed = 0
    pipe = client.pipeline(transaction=False)
    queued = 0
    for key in keys:
        pipe.hdel(key, *fields)
        queued += 1
        if queued >= chunk:
            changed += sum(1 for removed in pipe.execute() if removed)
            queued = 0
    if queued:
        changed += sum(1 for removed in pipe.execute() if removed)
    return changed
