"""Acknowledged means kept: through kill -9, builds, syncs racing pushes, and compaction under load."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import duckdb
import httpx
import redis

from feature_store.offline import connection as duckdb_connection
from feature_store.offline import push_log
from feature_store.registry.manifest import load_registry
from tests.conftest import DEMO_NOW, PROJECT_DIR, BuiltProject, demo_vars, run_dbt
from tests.push.stack import VIEW, Stack, api_process, logged_rows, recent, row, view_rows
from tests.sync_cli import assert_verified, synced


def _ts(text: str) -> str:
    return text if text.endswith("Z") else text.replace("+00:00", "Z")


def test_kill_9_after_acknowledged_pushes_then_build_and_sync_keeps_every_row(
    project: BuiltProject, redis_url: str
) -> None:
    synced(project, redis_url)
    acknowledged = []
    with api_process(redis_url) as (process, url):
        stack = Stack(project, redis_url, url)
        for user_id in range(1, 41):
            pushed = row(user_id, recent(100 - user_id), f"genre-{user_id}", 1000 + user_id)
            assert stack.push([pushed]).status_code == 200
            acknowledged.append(pushed)
        process.send_signal(signal.SIGKILL)
        process.wait()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()  # as if Redis died too, and came back empty
    run_dbt(project.path, "build", "--vars", demo_vars(DEMO_NOW))
    built = view_rows(project.parquet(VIEW))
    for pushed in acknowledged:
        assert (pushed["user_id"], _ts(pushed["event_timestamp"]), pushed["last_genre"],
                pushed["last_title_id"]) in built
    synced(project, redis_url, as_of=recent(0))
    for pushed in acknowledged:
        stored = client.hgetall(f"user:{pushed['user_id']}")
        assert stored["last_genre"] == pushed["last_genre"]
        assert stored[f"_ts:{VIEW}"] == _ts(pushed["event_timestamp"])
    assert_verified(project, redis_url, as_of=recent(0))
    client.close()
    # The point-in-time join sees each pushed row from its event time on, and not a moment before.
    pushed = acknowledged[0]
    at = datetime.fromisoformat(pushed["event_timestamp"])
    spine = project.path / "spine.csv"
    spine.write_text("user_id,event_timestamp\n" + "".join(
        f"{pushed['user_id']},{(at + timedelta(seconds=shift)).strftime('%Y-%m-%d %H:%M:%S')}\n" for shift in (-1, 0)))
    out = project.path / "training.parquet"
    made = subprocess.run([sys.executable, "-m", "sync", "training-set", "--project-dir", str(project.path), "--spine",
                           str(spine), "--features", "last_genre", "--out", str(out)],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    genres = duckdb.connect().execute(f"select last_genre from read_parquet('{out}') order by event_timestamp")
    before, after = (genre for (genre,) in genres.fetchall())
    assert before != pushed["last_genre"] and after == pushed["last_genre"]


def test_pushes_racing_a_build_and_a_sync_are_never_regressed_and_verify_is_clean(
    project: BuiltProject, redis_url: str
) -> None:
    synced(project, redis_url)
    stop = threading.Event()
    latest: dict[int, dict] = {}
    with api_process(redis_url) as (_, url):
        stack = Stack(project, redis_url, url)

        def pusher() -> None:
            count = 0
            while not stop.is_set():
                user_id = 100 + count % 25  # some ids new to the view, pushed while the sync runs
                pushed = row(user_id, recent(0), f"live-{count}", count)
                count += 1
                answer = stack.push([pushed])
                assert answer.status_code == 200, answer.text
                latest[user_id] = pushed

        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(pusher)
            run_dbt(project.path, "build", "--vars", demo_vars(DEMO_NOW))
            synced(project, redis_url, "--full", as_of=recent(0))
            synced(project, redis_url, as_of=recent(0))
            stop.set()
            running.result()
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        for user_id, pushed in latest.items():
            assert client.hget(f"user:{user_id}", "last_genre") == pushed["last_genre"], user_id
        client.close()
    # The rows pushed during the build are not in it, but in the log: verify compares against both.
    assert_verified(project, redis_url, as_of=recent(0))
    run_dbt(project.path, "build", "--vars", demo_vars(DEMO_NOW))
    synced(project, redis_url, as_of=recent(0))
    assert_verified(project, redis_url, as_of=recent(0))
    built = view_rows(project.parquet(VIEW))
    for pushed in latest.values():
        assert (pushed["user_id"], _ts(pushed["event_timestamp"]), pushed["last_genre"],
                pushed["last_title_id"]) in built


def test_compaction_under_concurrent_pushes_loses_nothing_and_bounds_the_files(stack: Stack) -> None:
    registry = load_registry(stack.project.path)
    view = registry.view(VIEW)
    entity = registry.entity(view.entity)
    sent: list[tuple[int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def pusher(worker: int) -> None:
        with httpx.Client(timeout=10) as http:
            count = 0
            while not stop.is_set():
                rows = [row(worker * 100_000 + count + i, recent(1), f"w{worker}-{count + i}") for i in range(3)]
                answer = http.post(f"{stack.api}/push/{VIEW}", json=rows)
                assert answer.status_code == 200, answer.text
                with lock:
                    sent.extend((r["user_id"], r["last_genre"]) for r in rows)
                count += 3

    connection = duckdb_connection.connect()
    with ThreadPoolExecutor(3) as pool:
        running = [pool.submit(pusher, worker) for worker in range(3)]
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline or len(sent) < 150:
            push_log.compact(connection, view, entity, max_parquet_files=4)
            assert len(list(stack.log.glob("*.parquet"))) <= 5
            time.sleep(0.05)
        stop.set()
        for future in running:
            future.result()
    push_log.compact(connection, view, entity, max_parquet_files=4)
    assert not list((stack.log / "landing").glob("*.json")) and len(list(stack.log.glob("*.parquet"))) <= 4
    assert not list(stack.log.rglob("*.tmp"))
    kept = sorted((r["user_id"], r["last_genre"]) for r in logged_rows(stack.log))
    assert len(sent) > 100 and kept == sorted(sent)  # every acknowledged row exactly once
