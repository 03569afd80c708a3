"""Incremental and exact: each change to the offline data or the definitions reaches Redis, and only it.

The offline data is changed the way a `dbt build` would change it (new or
removed rows in the Parquet history, a changed definition in the manifest), and
the sync is the real command against a real redis-server; `verify` checks every
entity afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from feature_store.online.embedded.server import EmbeddedRedis
from tests.conftest import PROJECT_DIR, BuiltProject
from tests.sync_cli import assert_verified, summary, synced


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


def append_rows(project: BuiltProject, view: str, rows: list[dict]) -> None:
    path = project.parquet(view)
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)]), path)


def drop_entity(project: BuiltProject, view: str, user_id: int) -> None:
    path = project.parquet(view)
    table = pq.read_table(path)
    pq.write_table(table.filter(pa.compute.not_equal(table["user_id"], user_id)), path)


def edit_manifest(project: BuiltProject, edit) -> None:
    document = json.loads(project.manifest.read_text())
    edit(document["nodes"])
    project.manifest.write_text(json.dumps(document))


def test_second_sync_writes_nothing_and_changes_write_only_themselves(project, redis_url, client) -> None:
    first = synced(project, redis_url)
    assert "full sync" in summary(first, "user_watch_stats")
    second = synced(project, redis_url)
    assert "unchanged since the last sync" in summary(second, "user_watch_stats")
    assert " 0 written" in summary(second, "user_watch_stats")

    now = project.demo_now.replace(tzinfo=None)
    append_rows(project, "user_watch_stats", [
        {"user_id": 1, "event_timestamp": now - timedelta(minutes=5), "watch_count_30d": 99,
         "watch_minutes_30d": 990, "avg_minutes_per_title_30d": 10.0},
        {"user_id": 2, "event_timestamp": now - timedelta(minutes=5), "watch_count_30d": 7,
         "watch_minutes_30d": 70, "avg_minutes_per_title_30d": 10.0},
        # Dated after the sync's clock: waits for a later sync.
        {"user_id": 3, "event_timestamp": now + timedelta(seconds=1), "watch_count_30d": 1,
         "watch_minutes_30d": 1, "avg_minutes_per_title_30d": 1.0},
    ])
    third = synced(project, redis_url)
    assert " 2 written, 0 deleted" in summary(third, "user_watch_stats")
    assert " 0 written" in summary(third, "user_segment")
    assert client.hget("user:1", "watch_count_30d") == "99"
    assert client.hget("user:3", "watch_count_30d") != "1"
    assert_verified(project, redis_url)

    later = synced(project, redis_url, as_of=project.demo_now + timedelta(seconds=2))
    assert client.hget("user:3", "watch_count_30d") == "1"
    assert "incremental" in summary(later, "user_watch_stats")


def test_late_arriving_rows(project, redis_url, client) -> None:
    synced(project, redis_url)
    user_id = 42
    rows = pq.read_table(project.parquet("user_last_genre")).to_pylist()
    current = max((r for r in rows if r["user_id"] == user_id
                   and r["event_timestamp"] <= project.demo_now.replace(tzinfo=None)),
                  key=lambda r: r["event_timestamp"])
    older = dict(current, event_timestamp=current["event_timestamp"] - timedelta(days=1), last_genre="western",
                 loaded_at=project.demo_now.replace(tzinfo=None))
    append_rows(project, "user_last_genre", [older])
    assert " 0 written" in summary(synced(project, redis_url), "user_last_genre")  # older than the latest: no change

    newer = dict(current, event_timestamp=current["event_timestamp"] + timedelta(seconds=1), last_genre="western",
                 loaded_at=project.demo_now.replace(tzinfo=None))
    append_rows(project, "user_last_genre", [newer])
    assert " 1 written" in summary(synced(project, redis_url), "user_last_genre")
    assert client.hget(f"user:{user_id}", "last_genre") == "western"
    # A correction loaded later with the same event timestamp wins the tie (created_timestamp).
    fix = dict(newer, last_genre="horror", loaded_at=newer["loaded_at"] + timedelta(seconds=1))
    append_rows(project, "user_last_genre", [fix])
    synced(project, redis_url)
    assert client.hget(f"user:{user_id}", "last_genre") == "horror"
    assert_verified(project, redis_url)


def test_entity_leaving_a_view_loses_only_that_views_fields(project, redis_url, client) -> None:
    synced(project, redis_url)
    assert client.hexists("user:7", "_ts:user_last_genre") and client.hexists("user:7", "user_segment")
    drop_entity(project, "user_last_genre", 7)
    output = synced(project, redis_url)
    assert " 0 written, 1 deleted" in summary(output, "user_last_genre")
    fields = client.hgetall("user:7")
    assert "last_genre" not in fields and "_ts:user_last_genre" not in fields
    assert "user_segment" in fields
    assert_verified(project, redis_url)


def test_value_becoming_null_is_removed(project, redis_url, client) -> None:
    synced(project, redis_url)
    now = project.demo_now.replace(tzinfo=None)
    append_rows(project, "user_watch_stats", [
        {"user_id": 5, "event_timestamp": now - timedelta(seconds=1), "watch_count_30d": 0,
         "watch_minutes_30d": 0, "avg_minutes_per_title_30d": None},
    ])
    synced(project, redis_url)
    fields = client.hgetall("user:5")
    assert fields["watch_count_30d"] == "0" and "avg_minutes_per_title_30d" not in fields
    assert_verified(project, redis_url)


def test_removed_and_renamed_features_and_removed_views(project, redis_url, client) -> None:
    synced(project, redis_url)
    assert client.hexists("user:1", "watch_minutes_30d")

    def change_definitions(nodes: dict) -> None:
        stats = nodes["model.feature_store.user_watch_stats"]
        del stats["columns"]["watch_minutes_30d"]  # removed feature
        column = stats["columns"].pop("avg_minutes_per_title_30d")  # renamed feature
        column["name"] = "minutes_per_title_30d"
        stats["columns"]["minutes_per_title_30d"] = column
        del nodes["model.feature_store.user_last_genre"]  # removed view
        for node in nodes.values():  # the entity's prompt template follows its features
            for meta in (node.get("config", {}).get("meta") or {}, node.get("meta") or {}):
                if "entities" in meta:
                    meta["entities"]["user"]["context_template"] = "User context: segment={user_segment}."

    edit_manifest(project, change_definitions)
    path = project.parquet("user_watch_stats")
    pq.write_table(pq.read_table(path).rename_columns(
        ["user_id", "event_timestamp", "watch_count_30d", "watch_minutes_30d", "minutes_per_title_30d"]), path)
    output = synced(project, redis_url)
    assert "full sync" in summary(output, "user_watch_stats")  # its shape changed

    registry = json.loads(client.get("{_fs}:registry"))
    assert "user_last_genre" not in registry["views"]
    assert not client.exists("{_fs}:view:user_last_genre")
    offenders = [key for key in client.scan_iter("user:*")
                 if client.hexists(key, "watch_minutes_30d") or client.hexists(key, "avg_minutes_per_title_30d")
                 or client.hexists(key, "last_genre") or client.hexists(key, "_ts:user_last_genre")]
    assert offenders == []
    assert client.hget("user:1", "minutes_per_title_30d") is not None
    assert_verified(project, redis_url)


def test_flushed_redis_gets_a_full_sync(project, redis_url, client) -> None:
    synced(project, redis_url)
    client.flushall()
    output = synced(project, redis_url, "--select", "daily")
    assert "full sync: Redis does not hold the data of the last sync" in output
    assert "user_watch_stats: full sync" in output  # every view, not only the selected one
    assert_verified(project, redis_url)


def test_redis_restarted_from_an_older_snapshot_is_repaired(project, tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    server = EmbeddedRedis(folder, persist=True).start()
    try:
        url = server.url
        synced(project, url)
        client = redis.Redis.from_url(url, decode_responses=True)
        client.save()
        shutil.copy(folder / "dump.rdb", tmp_path / "old.rdb")
        now = project.demo_now.replace(tzinfo=None)
        append_rows(project, "user_watch_stats", [
            {"user_id": 11, "event_timestamp": now - timedelta(minutes=1), "watch_count_30d": 123,
             "watch_minutes_30d": 1, "avg_minutes_per_title_30d": 1.0}])
        drop_entity(project, "user_segment", 12)
        synced(project, url)
        server.stop()
        shutil.rmtree(folder / "appendonlydir", ignore_errors=True)
        (folder / "appendonly.aof").unlink(missing_ok=True)
        shutil.copy(tmp_path / "old.rdb", folder / "dump.rdb")
        server = EmbeddedRedis(folder, port=server.port, persist=True,
                               extra_args=("--appendonly", "no")).start()
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.hget("user:11", "watch_count_30d") != "123"  # rolled back, not empty
        assert client.dbsize() > 0
        output = synced(project, url)
        assert "full sync: Redis does not hold the data of the last sync" in output
        assert client.hget("user:11", "watch_count_30d") == "123"
        assert not client.hexists("user:12", "user_segment")
        assert_verified(project, url)
    finally:
        server.stop()


def add_synthetic_entities(project: BuiltProject, count: int, version: int) -> None:
    """Many extra users in user_segment, so a sync runs long enough to be killed mid-way."""
    path = project.parquet("user_segment")
    table = pq.read_table(path)
    stamp = project.demo_now.replace(tzinfo=None) - timedelta(days=1, minutes=version)
    extra = pa.table({
        "user_id": pa.array(range(10_000_000, 10_000_000 + count), pa.int64()),
        "event_timestamp": pa.array([stamp] * count, table.schema.field("event_timestamp").type),
        "user_segment": pa.array(["casual" if (i + version) % 3 else "regular" for i in range(count)]),
        "is_active_7d": pa.array([(i + version) % 2 == 0 for i in range(count)]),
    })
    pq.write_table(pa.concat_tables([table, extra.cast(table.schema)]), path)


def hset_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_hset", {}).get("calls", 0))


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sync_killed_midway_converges_on_rerun(project, redis_url, client) -> None:
    """kill -9 as soon as the sync's first writes reach Redis (so mid-way), then rerun and verify.

    The second round is a full sync, the third runs with two workers: they die with the killed sync.
    """
    add_synthetic_entities(project, 150_000, version=0)
    synced(project, redis_url)
    now = project.demo_now.replace(tzinfo=None)
    killed = 0
    for round_number in range(3):
        add_synthetic_entities(project, 150_000, version=round_number + 1)
        append_rows(project, "user_watch_stats", [
            {"user_id": uid, "event_timestamp": now - timedelta(minutes=30 - round_number), "watch_count_30d": uid,
             "watch_minutes_30d": round_number, "avg_minutes_per_title_30d": None} for uid in range(1, 400)])
        drop_entity(project, "user_last_genre", 100 + round_number)
        before = hset_calls(client)
        process = subprocess.Popen(
            [sys.executable, "-m", "sync", "--project-dir", str(project.path), "--as-of",
             project.demo_now.isoformat(), *{1: ["--full"], 2: ["--workers", "2"]}.get(round_number, [])],
            env={**os.environ, "REDIS_URL": redis_url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=PROJECT_DIR,
        )
        deadline = time.monotonic() + 60
        while hset_calls(client) == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        workers = children_of(process.pid)
        process.send_signal(signal.SIGKILL)
        killed += process.wait() == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if alive(pid)], "a worker outlived the killed sync"
        synced(project, redis_url)
        assert_verified(project, redis_url)
    assert killed >= 2, "the syncs finished before they were killed: the test proved nothing"
