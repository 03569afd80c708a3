"""`python -m sync stream`: a Redis Stream consumed through the push path, killed and restarted mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import cast

import redis

from tests.conftest import PROJECT_DIR, BuiltProject
from tests.push.stack import VIEW, logged_rows, recent, row
from tests.sync_cli import synced

STREAM = "pushes"


def consumer(project: BuiltProject, url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "REDIS_URL": url}
    env.pop("FEATURE_STORE_AS_OF", None)
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "stream", "--project-dir", str(project.path), "--stream", STREAM,
         "--consumer", "one", "--batch", "5", *args],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_the_stream_consumer_killed_and_restarted_loses_nothing_and_never_goes_back(
    project: BuiltProject, redis_url: str
) -> None:
    synced(project, redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    start = recent(3600)
    sent = []
    for n in range(400):
        user_id = 1 + n % 20
        # Mostly forward in time per user, with some late rows that must not replace newer ones.
        at = start + timedelta(seconds=n * 5 - (300 if n % 7 == 0 else 0))
        pushed = row(user_id, at, f"s-{n}", n)
        sent.append(pushed)
        client.xadd(STREAM, {"view": VIEW, "rows": json.dumps([pushed])})
    client.xadd(STREAM, {"view": "user_segment", "rows": json.dumps([row(1, start, "x")])})  # refused by name
    first = consumer(project, redis_url)
    log = project.path / "data" / "push" / VIEW
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((log / "landing").glob("*.json"))) < 20:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)  # mid-stream: some entries kept but not acknowledged, most not read
    first.wait()
    assert len(list((log / "landing").glob("*.json"))) < 81, "the consumer finished before it was killed"
    second = consumer(project, redis_url, "--idle-exit", "1.5")
    output, _ = second.communicate(timeout=120)
    assert second.returncode == 0, output
    assert client.xpending(STREAM, "feature_store")["pending"] == 0
    rejected = cast(list[tuple[str, dict[str, str]]], client.xrange(f"{STREAM}:rejected"))
    assert len(rejected) == 1 and "does not take pushes" in rejected[0][1]["reason"]
    kept = {(r["user_id"], r["last_genre"]) for r in logged_rows(log)}
    assert kept == {(p["user_id"], p["last_genre"]) for p in sent}
    for user_id in range(1, 21):
        newest = max((p for p in sent if p["user_id"] == user_id), key=lambda p: p["event_timestamp"])
        stored = client.hgetall(f"user:{user_id}")
        assert stored["last_genre"] == newest["last_genre"], user_id
        assert stored[f"_ts:{VIEW}"] == newest["event_timestamp"]
    client.close()
