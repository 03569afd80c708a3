"""Readers during a sync never see one entity with values from two rows of the same view."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import redis

from tests.conftest import BuiltProject

REPO = Path(__file__).resolve().parents[2]
USERS = 30_000
VERSIONS = 4


def write_versions(project: BuiltProject, upto: int) -> None:
    """user_watch_stats where version v of every user has count v, minutes 10v, avg v (null when v is odd),
    dated base + v minutes: any mix of two versions in one hash breaks these relations."""
    path = project.parquet("user_watch_stats")
    schema = pq.read_schema(path)
    base = project.demo_now.replace(tzinfo=None) - timedelta(days=1)
    users: list[int] = []
    stamps, counts, minutes, averages = [], [], [], []
    for version in range(upto + 1):
        users += range(1, USERS + 1)
        stamps += [base + timedelta(minutes=version)] * USERS
        counts += [version] * USERS
        minutes += [10 * version] * USERS
        averages += [None if version % 2 else float(version)] * USERS
    table = pa.table({"user_id": users, "event_timestamp": stamps, "watch_count_30d": counts,
                      "watch_minutes_30d": minutes, "avg_minutes_per_title_30d": averages})
    pq.write_table(table.cast(schema), path)


def check(fields: dict[bytes, bytes], violations: list[str], seen: set[int]) -> None:
    stamp = fields.get(b"_ts:user_watch_stats")
    if stamp is None:
        return
    minute = int(stamp.decode()[14:16])
    version = minute if minute < 30 else None
    count = int(fields[b"watch_count_30d"])
    seen.add(count)
    average = fields.get(b"avg_minutes_per_title_30d")
    ok = (version == count and int(fields[b"watch_minutes_30d"]) == 10 * count
          and (average is None) == (count % 2 == 1) and (average is None or float(average) == count))
    if not ok:
        violations.append(repr(fields))


def test_no_reader_sees_a_mix_of_two_rows(project: BuiltProject, redis_url: str) -> None:
    env = {**os.environ, "REDIS_URL": redis_url}
    command = [sys.executable, "-m", "sync", "--project-dir", str(project.path), "--select", "user_watch_stats",
               "--as-of", project.demo_now.isoformat()]
    write_versions(project, 0)
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=REPO)

    stop = threading.Event()
    violations: list[str] = []
    seen: set[int] = set()
    reads = [0]

    def reader(seed: int) -> None:
        client = redis.Redis.from_url(redis_url)
        rng = random.Random(seed)
        while not stop.is_set():
            pipe = client.pipeline(transaction=False)
            for user in rng.sample(range(1, USERS + 1), 50):
                pipe.hgetall(f"user:{user}")
            for fields in pipe.execute():
                check(fields, violations, seen)
            reads[0] += 50

    threads = [threading.Thread(target=reader, args=(seed,), daemon=True) for seed in range(3)]
    for thread in threads:
        thread.start()
    try:
        for version in range(1, VERSIONS + 1):
            write_versions(project, version)
            result = subprocess.run(command + (["--full"] if version == VERSIONS else []), env=env,
                                    capture_output=True, text=True, cwd=REPO)
            assert result.returncode == 0, result.stdout + result.stderr
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert violations == [], violations[:3]
    assert reads[0] > 1000 and len(seen) >= 3, (reads[0], seen)  # the readers ran during the syncs
