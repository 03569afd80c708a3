"""A real stack for push tests: a built copy of the project synced into a real Redis, and
`python -m api` over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import redis

from tests.api.test_server import start_api, stop_api
from tests.conftest import BuiltProject

VIEW = "user_last_genre"


@dataclass
class Stack:
    project: BuiltProject
    redis_url: str
    api: str
    key: str | None = None

    @property
    def log(self) -> Path:
        return self.project.path / "data" / "push" / VIEW

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def push(self, rows: Any, view: str = VIEW) -> httpx.Response:
        return httpx.post(f"{self.api}/push/{view}", json=rows, headers=self.headers(), timeout=10)

    def features(self, user_id: int) -> dict[str, Any]:
        answer = httpx.get(f"{self.api}/features/user/{user_id}", headers=self.headers(), timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@contextmanager
def api_process(redis_url: str, **env: str) -> Iterator[tuple[Any, str]]:
    process, url = start_api(redis_url, **env)
    try:
        yield process, url
    finally:
        stop_api(process)


def row(user_id: int, at: datetime, genre: str, title: int = 1, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "event_timestamp": at.isoformat().replace("+00:00", "Z"), "last_genre": genre,
            "last_title_id": title, **extra}


def recent(seconds_ago: float) -> datetime:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).replace(microsecond=0)


def redis_snapshot(url: str) -> dict[bytes, bytes]:
    """Every key's DUMP: the whole database, byte for byte."""
    client = redis.Redis.from_url(url)
    try:
        return {key: client.dump(key) or b"" for key in sorted(client.scan_iter(count=1000))}
    finally:
        client.close()


def log_snapshot(log: Path) -> dict[str, bytes]:
    return {str(path.relative_to(log)): path.read_bytes() for path in sorted(log.rglob("*")) if path.is_file()}


def logged_rows(log: Path) -> list[dict[str, Any]]:
    """Every row of the push log (Parquet and landing files), read independently of the store's code."""
    rows: list[dict[str, Any]] = []
    for path in sorted((log / "landing").glob("*.json")):
        rows.extend(json.loads(path.read_text()))
    parquet = sorted(log.glob("*.parquet"))
    if parquet:
        connection = duckdb.connect()
        files = ", ".join(f"'{p}'" for p in parquet)
        cursor = connection.execute(f"select user_id, strftime(event_timestamp, '%Y-%m-%d %H:%M:%S.%f'), "
                                    f"last_genre, last_title_id from read_parquet([{files}])")
        rows.extend({"user_id": u, "event_timestamp": t, "last_genre": g, "last_title_id": i}
                    for u, t, g, i in cursor.fetchall())
    return rows


def view_rows(parquet: Path) -> set[tuple[int, str, str, int]]:
    connection = duckdb.connect()
    cursor = connection.execute(f"select user_id, strftime(event_timestamp, '%Y-%m-%dT%H:%M:%SZ'), last_genre, "
                                f"last_title_id from read_parquet('{parquet}')")
    return set(cursor.fetchall())
