"""Redis going away: every Redis-touching endpoint answers a JSON 503 quickly, and recovers by itself."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.core.config import Settings
from feature_store.online.embedded.server import EmbeddedRedis, free_port
from tests.api.conftest import serve
from tests.api.online import NOW, USER_WATCH_STATS, OnlineWriter

pytestmark = pytest.mark.anyio

TIMEOUT = 0.5
# A refused connection is retried once at once; a timeout is not retried. Plus slack for a busy machine.
BOUND_SECONDS = TIMEOUT + 1.0


class RestartableRedis:
    """A dedicated redis-server on a fixed port, so the app's URL stays valid across restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.server: EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server = EmbeddedRedis(self.data_dir, port=self.port).start()
        writer = OnlineWriter(self.url)
        writer.publish()
        writer.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW)
        writer.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def signal(self, number: int) -> None:
        assert self.server is not None and self.server.process is not None
        self.server.process.send_signal(number)


@pytest.fixture
def dedicated_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    redis = RestartableRedis(tmp_path / "redis")
    redis.start()
    try:
        yield redis
    finally:
        if redis.server is not None and redis.server.process is not None:
            redis.signal(signal.SIGCONT)
        redis.stop()


async def timed(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, url, **kwargs)
    return response, time.monotonic() - started


REDIS_ENDPOINTS = [
    ("GET", "/features/user/1", {}),
    ("POST", "/features/user", {"json": {"ids": [1, 2]}}),
    ("GET", "/registry", {}),
]


async def test_stopped_redis_gives_json_503_then_recovers(dedicated_redis: RestartableRedis) -> None:
    settings = Settings(
        redis_url=dedicated_redis.url, as_of="2026-11-27T12:00:00Z", redis_timeout_seconds=TIMEOUT
    )
    async with serve(settings) as client:
        assert (await client.get("/features/user/1")).status_code == 200

        dedicated_redis.stop()
        for method, url, kwargs in REDIS_ENDPOINTS:
            response, seconds = await timed(client, method, url, **kwargs)
            assert response.status_code == 503, (url, response.text)
            assert response.json()["error"] == "redis_unavailable"
            assert f"127.0.0.1:{dedicated_redis.port}" in response.json()["detail"]
            assert seconds < BOUND_SECONDS, (url, seconds)
        ready = await client.get("/ready")
        assert (ready.status_code, ready.json()["redis"]) == (503, False)
        assert (await client.get("/health")).status_code == 200

        dedicated_redis.start()
        recovered = await client.get("/features/user/1")
        assert recovered.status_code == 200
        assert recovered.json()["features"]["watch_count_30d"] == 4
        assert (await client.get("/ready")).status_code == 200


async def test_a_hung_redis_gives_503_within_the_timeout_then_recovers(
    dedicated_redis: RestartableRedis,
) -> None:
    """A server that accepts but never answers (stopped with SIGSTOP) is bounded by the socket timeout."""
    settings = Settings(
        redis_url=dedicated_redis.url, as_of="2026-11-27T12:00:00Z", redis_timeout_seconds=TIMEOUT
    )
    async with serve(settings) as client:
        assert (await client.get("/features/user/1")).status_code == 200

        dedicated_redis.signal(signal.SIGSTOP)
        try:
            for method, url, kwargs in REDIS_ENDPOINTS:
                response, seconds = await timed(client, method, url, **kwargs)
                assert response.status_code == 503, (url, response.text)
                assert response.json()["error"] == "redis_unavailable"
                assert "timed out" in response.json()["detail"]
                assert seconds < BOUND_SECONDS, (url, seconds)
            assert (await client.get("/health")).status_code == 200
        finally:
            dedicated_redis.signal(signal.SIGCONT)

        recovered = await client.get("/features/user/1")
        assert recovered.status_code == 200


async def test_app_starts_while_redis_is_down_and_serves_once_it_is_up(tmp_path: Path) -> None:
    redis = RestartableRedis(tmp_path / "redis")
    settings = Settings(redis_url=redis.url, as_of="2026-11-27T12:00:00Z", redis_timeout_seconds=TIMEOUT)
    async with serve(settings) as client:
        down = await client.get("/features/user/1")
        assert down.status_code == 503
        redis.start()
        try:
            assert (await client.get("/features/user/1")).status_code == 200
        finally:
            redis.stop()


async def test_requests_queued_behind_a_hung_redis_are_bounded_too(dedicated_redis: RestartableRedis) -> None:
    """With every connection stuck, a waiting request gives up after the timeout instead of queueing on."""
    settings = Settings(
        redis_url=dedicated_redis.url,
        as_of="2026-11-27T12:00:00Z",
        redis_timeout_seconds=TIMEOUT,
        redis_max_connections=1,
    )
    async with serve(settings) as client:
        assert (await client.get("/features/user/1")).status_code == 200
        dedicated_redis.signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get("/features/user/1") for _ in range(3)))
            seconds = time.monotonic() - started
        finally:
            dedicated_redis.signal(signal.SIGCONT)
        assert {answer.status_code for answer in answers} == {503}
        assert any("busy" in answer.json()["detail"] for answer in answers)
        assert seconds < 2 * TIMEOUT + 1.0
        assert (await client.get("/features/user/1")).status_code == 200
