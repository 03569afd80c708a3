"""The sync end to end: a real dbt build, the real `python -m sync` command, a real redis-server."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from feature_store.online.text import encode, format_timestamp
from tests.conftest import BuiltProject
from tests.reference import latest_rows
from tests.sync_cli import sync_cli

VIEWS = ("user_last_genre", "user_segment", "user_watch_stats")


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


def test_sync_writes_the_latest_offline_row_of_every_entity(built_project, redis_url, client) -> None:
    result = sync_cli(built_project, redis_url)
    assert result.returncode == 0, result.stderr
    for view in VIEWS:
        assert f"{view}: full sync" in result.stdout and "written" in result.stdout
    features = {
        "user_last_genre": (["last_genre", "last_title_id"], "loaded_at", {"last_genre": "string",
                                                                            "last_title_id": "int64"}),
        "user_segment": (["user_segment", "is_active_7d"], None, {"user_segment": "string", "is_active_7d": "bool"}),
        "user_watch_stats": (["watch_count_30d", "watch_minutes_30d", "avg_minutes_per_title_30d"], None,
                             {"watch_count_30d": "int64", "watch_minutes_30d": "int64",
                              "avg_minutes_per_title_30d": "float64"}),
    }
    for view, (names, created, dtypes) in features.items():
        expected = latest_rows(built_project.parquet(view), "user_id", "event_timestamp",
                               built_project.demo_now, created)
        assert expected, view
        pipe = client.pipeline(transaction=False)
        for user_id in expected:
            pipe.hgetall(f"user:{user_id}")
        for (user_id, row), online in zip(expected.items(), pipe.execute(), strict=True):
            assert online[f"_ts:{view}"] == format_timestamp(row["event_timestamp"]), (view, user_id)
            for name in names:
                want = None if row[name] is None else encode(row[name], dtypes[name])
                assert online.get(name) == want, (view, user_id, name)
    # No row dated after the sync's clock was written (the 30-day window drops wait).
    latest = max(client.hget(k, "_ts:user_watch_stats") or "" for k in client.scan_iter("user:*"))
    assert latest <= format_timestamp(built_project.demo_now)

    verify = sync_cli(built_project, redis_url, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.count(": ok") == 3


def test_verify_reports_mismatched_missing_and_extra(built_project, redis_url, client) -> None:
    assert sync_cli(built_project, redis_url).returncode == 0
    some_users = sorted(latest_rows(built_project.parquet("user_segment"), "user_id", "event_timestamp",
                                    built_project.demo_now))[:2]
    client.hset(f"user:{some_users[0]}", "user_segment", "not_a_segment")
    client.delete(f"user:{some_users[1]}")
    client.hset("user:99999999", mapping={"_ts:user_segment": "2026-01-01T00:00:00Z", "user_segment": "casual"})
    result = sync_cli(built_project, redis_url, "verify")
    assert result.returncode == 1
    assert "user_segment: " in result.stdout and "1 mismatched, 1 missing, 1 extra: DIFFERENT" in result.stdout
    assert "user_segment: online='not_a_segment'" in result.stdout


def test_a_null_feature_removes_the_old_value(built_project, redis_url, client) -> None:
    rows = latest_rows(built_project.parquet("user_watch_stats"), "user_id", "event_timestamp",
                       built_project.demo_now)
    quiet = next(uid for uid, row in rows.items() if row["avg_minutes_per_title_30d"] is None)
    client.hset(f"user:{quiet}", mapping={"avg_minutes_per_title_30d": "12.5", "watch_count_30d": "3"})
    assert sync_cli(built_project, redis_url).returncode == 0
    online = client.hgetall(f"user:{quiet}")
    assert "avg_minutes_per_title_30d" not in online
    assert online["watch_count_30d"] == "0"


def test_select_by_tag_and_due(built_project, redis_url, client) -> None:
    assert sync_cli(built_project, redis_url).returncode == 0
    later = built_project.demo_now + timedelta(hours=2)
    result = sync_cli(built_project, redis_url, "--select", "daily", as_of=later)
    assert result.returncode == 0, result.stderr
    assert "user_segment: unchanged since the last sync" in result.stdout and "user_watch_stats" not in result.stdout
    assert client.hget("{_fs}:view:user_segment", "last_sync_at") == format_timestamp(later)
    assert client.hget("{_fs}:view:user_watch_stats", "last_sync_at") == format_timestamp(built_project.demo_now)

    again = sync_cli(built_project, redis_url, "--due", as_of=later)
    assert "user_watch_stats:" in again.stdout and "user_last_genre:" in again.stdout  # hourly: due
    assert "user_segment:" not in again.stdout  # daily: synced at `later`
    assert "nothing due" in sync_cli(built_project, redis_url, "--due", as_of=later).stdout
    next_day = sync_cli(built_project, redis_url, "--due", as_of=later + timedelta(days=1))
    assert "user_segment:" in next_day.stdout

    unknown = sync_cli(built_project, redis_url, "--select", "nope")
    assert unknown.returncode == 1 and "no feature view or tag named 'nope'" in unknown.stderr


def test_publishes_registry_and_state_after_the_data(built_project, redis_url, client) -> None:
    assert sync_cli(built_project, redis_url).returncode == 0
    version = client.get("{_fs}:version")
    assert len(version) == 32
    assert sync_cli(built_project, redis_url).returncode == 0
    assert client.get("{_fs}:version") != version  # a new token for every publish
    assert '"user_watch_stats"' in client.get("{_fs}:registry")
    state = client.hgetall("{_fs}:view:user_segment")
    assert state["last_sync_at"] == format_timestamp(built_project.demo_now)
    assert int(state["rows"]) == 3000
    status = sync_cli(built_project, redis_url, "status")
    assert status.returncode == 0 and "user_segment" in status.stdout and "fresh" in status.stdout


@pytest.fixture
def broken_project(built_project: BuiltProject, tmp_path: Path) -> BuiltProject:
    """A copy of the built project that a test may damage."""
    copy = tmp_path / "project"
    shutil.copytree(built_project.path, copy, ignore=shutil.ignore_patterns("*.duckdb*"))
    return BuiltProject(copy, built_project.demo_now)


def test_missing_parquet_is_refused_and_redis_untouched(broken_project, redis_url, client) -> None:
    broken_project.parquet("user_last_genre").unlink()
    result = sync_cli(broken_project, redis_url)
    assert result.returncode == 1
    assert "model 'user_last_genre'" in result.stderr and "run `dbt build --select user_last_genre`" in result.stderr
    assert client.dbsize() == 0


def test_parquet_column_of_another_type_is_refused(broken_project, redis_url, client) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = broken_project.parquet("user_watch_stats")
    table = pq.read_table(path)
    index = table.schema.get_field_index("watch_count_30d")
    table = table.set_column(index, "watch_count_30d", table.column(index).cast(pa.string()))
    pq.write_table(table.drop_columns(["watch_minutes_30d"]), path)
    result = sync_cli(broken_project, redis_url)
    assert result.returncode == 1
    assert "column 'watch_count_30d': Parquet column is string, which does not fit dtype 'int64'" in result.stderr
    assert "column 'watch_minutes_30d': feature column is not in the Parquet file" in result.stderr
    assert client.dbsize() == 0


def test_no_manifest_is_refused(broken_project, redis_url) -> None:
    (broken_project.path / "target" / "manifest.json").unlink()
    result = sync_cli(broken_project, redis_url)
    assert result.returncode == 1 and "no dbt manifest" in result.stderr and "run `dbt build`" in result.stderr


def test_evicting_redis_is_refused(built_project, redis_url, client) -> None:
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        result = sync_cli(built_project, redis_url)
    finally:
        client.config_set("maxmemory-policy", "noeviction")
    assert result.returncode == 1 and "maxmemory-policy is 'allkeys-lru'" in result.stderr
    assert client.dbsize() == 0


def test_unreachable_redis_is_a_clear_error(built_project) -> None:
    from feature_store.online.embedded.server import free_port

    result = sync_cli(built_project, f"redis://127.0.0.1:{free_port()}/0", "--retries", "0")
    assert result.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
