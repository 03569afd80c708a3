"""Online = offline: after a real dbt build and sync, the API serves what the Parquet history says.

The expected values are computed here, independently, from the Parquet files
(latest row at or before the sync's clock; expired by the read time -> null).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.core.config import Settings
from feature_store.online.embedded.server import free_port
from feature_store.online.text import format_timestamp
from tests.conftest import BuiltProject
from tests.reference import latest_rows

REPO = Path(__file__).resolve().parents[2]
# view -> (features, created timestamp column, ttl)
VIEWS = {
    "user_segment": (("user_segment", "is_active_7d"), None, None),
    "user_watch_stats": (("watch_count_30d", "watch_minutes_30d", "avg_minutes_per_title_30d"), None,
                         timedelta(days=90)),
    "user_last_genre": (("last_genre", "last_title_id"), "loaded_at", timedelta(days=30)),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def synced_url(built_project: BuiltProject, redis_url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--project-dir", str(built_project.path),
         "--as-of", built_project.demo_now.isoformat()],
        env={**os.environ, "REDIS_URL": redis_url}, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return redis_url


@asynccontextmanager
async def api(url: str, read_at: datetime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(redis_url=url, as_of=read_at.isoformat()))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def expected_features(project: BuiltProject, read_at: datetime) -> dict[int, dict[str, object]]:
    """Per user: every feature's value as the API must serve it (None when missing or expired)."""
    expected: dict[int, dict[str, object]] = {}
    users = set()
    per_view = {}
    for view, (_, created, _) in VIEWS.items():
        rows = latest_rows(project.parquet(view), "user_id", "event_timestamp", project.demo_now, created)
        per_view[view] = rows
        users |= set(rows)
    cutoff = read_at.replace(tzinfo=None)
    for user in users:
        values: dict[str, object] = {}
        for view, (features, _, ttl) in VIEWS.items():
            row = per_view[view].get(user)
            valid = row is not None and (ttl is None or row["event_timestamp"] >= cutoff - ttl)
            for feature in features:
                values[feature] = row[feature] if valid and row is not None else None
        expected[user] = values
    return expected


@pytest.mark.anyio
@pytest.mark.parametrize("days_later", [0, 45])
async def test_every_served_value_equals_the_offline_latest_row(
    built_project: BuiltProject, synced_url: str, days_later: int
) -> None:
    """The skew test, for every entity; 45 days on, last_genre (ttl 30d) has expired for everyone."""
    read_at = built_project.demo_now + timedelta(days=days_later, minutes=1)
    expected = expected_features(built_project, read_at)
    ids = sorted(expected)
    served: dict[int, dict[str, object]] = {}
    statuses: dict[str, set[str]] = {view: set() for view in VIEWS}
    async with api(synced_url, read_at) as client:
        for start in range(0, len(ids), 1000):
            response = await client.post("/features/user", json={"ids": ids[start:start + 1000]})
            assert response.status_code == 200, response.text
            for result in response.json()["results"]:
                assert result["found"] is True
                served[result["id"]] = result["features"]
                for view, state in result["views"].items():
                    statuses[view].add(state["status"])
    assert len(served) == len(expected) == 3000
    mismatches = [(user, name, served[user][name], value)
                  for user, values in expected.items() for name, value in values.items()
                  if served[user][name] != value]
    assert mismatches == []
    if days_later == 0:
        assert statuses["user_segment"] == {"fresh"}
        assert "fresh" in statuses["user_last_genre"] and "expired" in statuses["user_last_genre"]
    else:
        assert statuses["user_last_genre"] <= {"expired", "missing"}
        assert statuses["user_segment"] == {"stale"}  # 45 days without a sync


@pytest.mark.anyio
async def test_statuses_around_ttl_and_freshness(built_project: BuiltProject, synced_url: str) -> None:
    rows = latest_rows(built_project.parquet("user_last_genre"), "user_id", "event_timestamp",
                       built_project.demo_now, "loaded_at")
    user, row = max(rows.items(), key=lambda item: item[1]["event_timestamp"])
    event_ts = row["event_timestamp"].replace(tzinfo=built_project.demo_now.tzinfo)
    hour = timedelta(hours=1)
    micro = timedelta(microseconds=1)
    cases = [
        (built_project.demo_now + hour, "fresh"),  # last sync exactly `freshness` ago
        (built_project.demo_now + hour + micro, "stale"),
        (event_ts + timedelta(days=30), "stale"),  # exactly ttl old: still served (and stale)
        (event_ts + timedelta(days=30) + micro, "expired"),
    ]
    for read_at, status in cases:
        async with api(synced_url, read_at) as client:
            body = (await client.get(f"/features/user/{user}")).json()
        assert body["views"]["user_last_genre"]["status"] == status, (read_at, body)
        assert body["views"]["user_last_genre"]["event_timestamp"] == format_timestamp(event_ts)
        assert (body["features"]["last_genre"] is None) == (status == "expired")


def test_a_demo_user_over_a_real_socket(built_project: BuiltProject, synced_url: str) -> None:
    """`python -m api` as users run it, against the synced demo: all three views' features."""
    everywhere = set.intersection(*(
        set(latest_rows(built_project.parquet(view), "user_id", "event_timestamp", built_project.demo_now, created))
        for view, (_, created, _) in VIEWS.items()
    ))
    user = min(everywhere)
    port = free_port()
    env = {**os.environ, "REDIS_URL": synced_url,
           "FEATURE_STORE_AS_OF": (built_project.demo_now + timedelta(minutes=5)).isoformat()}
    server = subprocess.Popen([sys.executable, "-m", "api", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/features/user/{user}", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == user
        assert set(body["views"]) == set(VIEWS)
        assert body["features"]["user_segment"] in {"power_user", "regular", "casual", "dormant"}
        assert isinstance(body["features"]["watch_count_30d"], int)
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/features/user/999999999", timeout=2).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=15)
