"""The sync meeting a failing Redis: bounded retries, a clear error, never a reported success."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import redis

from feature_store.online.embedded.server import EmbeddedRedis, free_port
from tests.conftest import BuiltProject

REPO = Path(__file__).resolve().parents[2]


def start_sync(project: BuiltProject, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "--project-dir", str(project.path), "--as-of",
         project.demo_now.isoformat(), "--retry-wait", "0.5", *args],
        env={**os.environ, "REDIS_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def verify(project: BuiltProject, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "verify", "--project-dir", str(project.path)],
                          env={**os.environ, "REDIS_URL": url}, capture_output=True, text=True, cwd=REPO)


def test_redis_down_throughout_gives_up_with_a_clear_message(project) -> None:
    process = start_sync(project, f"redis://127.0.0.1:{free_port()}/0", "--retries", "2")
    started = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert time.monotonic() - started < 20
    assert err.count("retrying in") == 2
    assert "cannot reach Redis" in err and "gave up after 3 attempts" in err
    assert "Traceback" not in err and "published" not in out


def test_redis_back_during_the_backoff_then_success(project, tmp_path: Path) -> None:
    port = free_port()
    process = start_sync(project, f"redis://127.0.0.1:{port}/0", "--retries", "4")
    # Start Redis once the sync has failed and is waiting, not after a fixed sleep: a slow start
    # of the sync (a loaded machine) would otherwise find Redis already up and never retry.
    assert process.stderr is not None
    before = ""
    while "retrying in" not in before:
        line = process.stderr.readline()
        assert line, "the sync ended without retrying: " + before
        before += line
    with EmbeddedRedis(tmp_path / "redis", port=port) as server:
        out, err = process.communicate(timeout=120)
        err = before + err
        assert process.returncode == 0, out + err
        assert "published registry version" in out
        result = verify(project, server.url)
        assert result.returncode == 0, result.stdout


def test_redis_dying_mid_sync_then_restarted_empty(project, tmp_path: Path) -> None:
    """Stopped while the sync writes: a non-zero exit; restarted empty: the next sync restores everything."""
    path = project.parquet("user_segment")
    table = pq.read_table(path)
    count = 300_000
    extra = pa.table({
        "user_id": pa.array(range(10_000_000, 10_000_000 + count), pa.int64()),
        "event_timestamp": pa.array([table["event_timestamp"][0].as_py()] * count,
                                    table.schema.field("event_timestamp").type),
        "user_segment": pa.array(["casual"] * count),
        "is_active_7d": pa.array([True] * count),
    }).cast(table.schema)
    pq.write_table(pa.concat_tables([table, extra]), path)
    port = free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=port).start()
    process = start_sync(project, server.url, "--retries", "1")
    deadline = time.monotonic() + 30
    client = redis.Redis.from_url(server.url)
    while client.dbsize() < 1000 and time.monotonic() < deadline:  # writes have begun
        time.sleep(0.02)
    server.stop()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "gave up after 2 attempts" in err and "Traceback" not in err
    assert "published registry version" not in out

    with EmbeddedRedis(tmp_path / "redis", port=port) as restarted:
        assert redis.Redis.from_url(restarted.url).dbsize() == 0
        process = start_sync(project, restarted.url)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
        assert "full sync" in out
        result = verify(project, restarted.url)
        assert result.returncode == 0, result.stdout
