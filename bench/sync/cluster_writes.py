"""Sync writes into a Redis Cluster: raw RESP streams per node vs redis-py's ClusterPipeline.

    python -m bench.sync.cluster_writes [--keys 200000]

Starts its own cluster (3 masters, a replica each) under a temporary folder and
writes `--keys` HSETs of 3 fields, as the sync renders them, both ways; also
times the hash-slot computation (numpy over a batch vs CRC16 per key in Python).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import redis

from feature_store.online.embedded.cluster import EmbeddedCluster
from feature_store.online.writes.cluster_writes import ClusterRespStream
from feature_store.online.writes.resp_stream import pack
from feature_store.online.writes.slots import key_slot, key_slots

BATCH = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200_000)
    args = parser.parse_args()
    ids = [str(i) for i in range(args.keys)]
    commands = [pack(b"HSET", f"user:{i}".encode(), b"_ts:v", b"2026-11-27T12:00:00Z", b"a", b"1", b"b", b"2.5")
                for i in ids]
    batches = [(pa.array([c.decode() for c in commands[s:s + BATCH]]), pa.array(ids[s:s + BATCH]))
               for s in range(0, len(ids), BATCH)]

    started = time.perf_counter()
    for _, batch_ids in batches:
        key_slots("user:", batch_ids)
    numpy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _, batch_ids in batches:
        [key_slot(f"user:{i}".encode()) for i in batch_ids.to_pylist()]
    python_seconds = time.perf_counter() - started
    print(f"slots of {args.keys:,} keys: numpy {numpy_seconds:.3f}s, per key in Python {python_seconds:.3f}s")

    with tempfile.TemporaryDirectory() as folder, EmbeddedCluster(Path(folder)) as cluster:
        client = redis.RedisCluster.from_url(cluster.url)
        stream = ClusterRespStream(client, "user:", {})
        started = time.perf_counter()
        for batch_commands, batch_ids in batches:
            stream.send(batch_commands, batch_ids)
        stream.close()
        raw = time.perf_counter() - started
        print(f"raw RESP per node: {args.keys:,} HSETs in {raw:.2f}s ({args.keys / raw:,.0f}/s)")
        client.flushall()
        started = time.perf_counter()
        for start in range(0, len(ids), 5_000):
            pipe = client.pipeline(transaction=False)
            for i in ids[start:start + 5_000]:
                pipe.hset(f"user:{i}", mapping={"_ts:v": "2026-11-27T12:00:00Z", "a": "1", "b": "2.5"})
            pipe.execute()
        piped = time.perf_counter() - started
        print(f"redis-py ClusterPipeline: {args.keys:,} HSETs in {piped:.2f}s ({args.keys / piped:,.0f}/s)")


if __name__ == "__main__":
    main()
