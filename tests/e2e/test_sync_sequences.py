"""Many incremental syncs in a row stay exact, whatever the served's shape and the number of workers.

Each round changes the offline history the way builds do (new values, entities
leaving and coming back, features becoming null, rows reached by a later
clock), syncs incrementally, and checks every entity in Redis against an
independent Python reference. The rounds run with the served's delta always
compacted into its base, never compacted, and with several workers, so every
path of the diff is exercised over a history of changes, not one.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from sync import changes
from sync.materialize import run_sync
from tests.conftest import BuiltProject
from tests.reference import assert_redis_holds_latest

VIEW = "user_watch_stats"
ROUNDS = 5


def change_history(project: BuiltProject, rng: random.Random, round_number: int) -> None:
    """New latest rows, nulls, entities leaving and returning, and rows dated past the clock."""
    path = project.parquet(VIEW)
    table = pq.read_table(path)
    rows = table.to_pylist()
    users = sorted({row["user_id"] for row in rows})
    now = project.demo_now.replace(tzinfo=None)
    moment = now + timedelta(hours=round_number)
    leaving = set(rng.sample(users, 15))
    rows = [row for row in rows if row["user_id"] not in leaving]
    for user in rng.sample(users, 40):
        rows.append({"user_id": user, "event_timestamp": moment - timedelta(minutes=rng.randint(0, 50)),
                     "watch_count_30d": rng.randint(0, 60), "watch_minutes_30d": rng.randint(0, 5000),
                     "avg_minutes_per_title_30d": None if rng.random() < 0.3 else rng.random() * 100})
    for user in rng.sample(users, 5):  # a row the next round's clock reaches
        rows.append({"user_id": user, "event_timestamp": moment + timedelta(minutes=30),
                     "watch_count_30d": 1000 + round_number, "watch_minutes_30d": 1, "avg_minutes_per_title_30d": None})
    for user in range(100_000 + round_number * 3, 100_000 + round_number * 3 + 3):  # new entities
        rows.append({"user_id": user, "event_timestamp": moment - timedelta(minutes=1), "watch_count_30d": 1,
                     "watch_minutes_30d": 2, "avg_minutes_per_title_30d": 2.0})
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def assert_redis_equals_reference(project: BuiltProject, client: redis.Redis, as_of) -> None:
    assert_redis_holds_latest(project.path, VIEW, client, as_of)


@pytest.mark.parametrize(("workers", "compact_share"), [(1, 0.0), (1, 10.0), (3, 10.0)],
                         ids=["always-compact", "delta-only", "three-workers"])
def test_incremental_syncs_in_a_row_stay_exact(project, redis_url, monkeypatch, workers, compact_share) -> None:
    monkeypatch.setattr(changes, "COMPACT_SHARE", compact_share)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    rng = random.Random(7)
    lines: list[str] = []
    for round_number in range(ROUNDS):
        as_of = project.demo_now + timedelta(hours=round_number)
        run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=VIEW, force=True,
                 workers=workers, say=lines.append)
        summary = next(line for line in lines[::-1] if line.startswith(f"{VIEW}:"))
        assert ("full sync" if round_number == 0 else "incremental sync") in summary
        assert_redis_equals_reference(project, client, as_of)
        if round_number < ROUNDS - 1:
            change_history(project, rng, round_number + 1)
    # The same rows in another order (other bytes): no entity is even recomputed (the fingerprints held up).
    table = pq.read_table(project.parquet(VIEW))
    pq.write_table(table.take(pa.array(range(table.num_rows - 1, -1, -1))), project.parquet(VIEW))
    lines.clear()
    run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=VIEW, force=True,
             workers=workers, say=lines.append)
    assert "(0 recomputed), 0 written, 0 deleted" in lines[0], lines[0]
    # Untouched since: the view is skipped without reading its rows.
    lines.clear()
    run_sync(project.path, redis.Redis.from_url(redis_url), as_of, redis_url, select=VIEW, force=True,
             workers=workers, say=lines.append)
    assert "unchanged since the last sync" in lines[0], lines[0]
    assert_redis_equals_reference(project, client, as_of)
    state_dir = project.path / "data" / "sync_state"
    deltas = list(state_dir.rglob(f"{VIEW}/delta-*.parquet"))
    assert (not deltas) if compact_share == 0.0 else deltas


def test_workers_write_what_one_worker_writes(project, redis_url) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    run_sync(project.path, redis.Redis.from_url(redis_url), project.demo_now, redis_url, force=True, workers=1,
             say=lambda _: None)
    one = {key: client.hgetall(key) for key in client.scan_iter(match="user:*", count=5_000)}
    client.flushall()
    lines: list[str] = []
    run_sync(project.path, redis.Redis.from_url(redis_url), project.demo_now, redis_url, force=True, workers=4,
             say=lines.append)
    assert any("full sync" in line for line in lines)  # the flush was noticed: every view rewritten
    four = {key: client.hgetall(key) for key in client.scan_iter(match="user:*", count=5_000)}
    assert four == one
