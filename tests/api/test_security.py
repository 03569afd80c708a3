"""Safe to expose: the optional API key, CORS off unless configured, request ids, and a Redis password."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from api.core.config import Settings, SettingsError
from feature_store.online.embedded.server import EmbeddedRedis
from tests.api.conftest import Client, ClientFactory, serve
from tests.api.online import CONTEXT_DEMO, NOW, USER_WATCH_STATS, OnlineWriter

pytestmark = pytest.mark.anyio

KEY = "s3cret-token_with.chars~"
FEAST = {"features": ["user_watch_stats:watch_count_30d"], "entities": {"user_id": [1]}}
# Every endpoint but /health, as (method, path, json body).
GUARDED = [
    ("GET", "/features/user/1", None),
    ("POST", "/features/user", {"ids": [1]}),
    ("GET", "/context/user/1", None),
    ("POST", "/context/user", {"ids": [1]}),
    ("POST", "/get-online-features", FEAST),
    ("GET", "/registry", None),
    ("GET", "/ready", None),
    ("GET", "/metrics", None),
    ("GET", "/catalog", None),
    ("GET", "/docs", None),
    ("GET", "/openapi.json", None),
    ("GET", "/no/such/route", None),
]


async def call(client: Client, method: str, path: str, body: dict | None, **headers: str):
    return await client.request(method, path, json=body, headers=headers)


@pytest.fixture
def published(online: OnlineWriter) -> OnlineWriter:
    online.publish(CONTEXT_DEMO)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW)
    return online


async def test_with_a_key_every_endpoint_but_health_wants_it(
    published: OnlineWriter, make_client: ClientFactory
) -> None:
    async with make_client(api_key=KEY) as client:
        for method, path, body in GUARDED:
            missing = await call(client, method, path, body)
            wrong = await call(client, method, path, body, authorization="Bearer not-the-key")
            assert (missing.status_code, wrong.status_code) == (401, 401), path
            assert missing.json() == {
                "error": "unauthorized",
                "detail": "this API wants a key: send `Authorization: Bearer <API_KEY>`",
            }
            assert wrong.json()["detail"].startswith("the API key is not valid")
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert KEY not in missing.text + wrong.text
        health = await client.get("/health")
    assert health.status_code == 200


async def test_the_right_key_opens_every_endpoint(published: OnlineWriter, make_client: ClientFactory) -> None:
    async with make_client(api_key=KEY) as client:
        for method, path, body in GUARDED:
            for scheme in ("Bearer", "bearer", "BEARER"):
                response = await call(client, method, path, body, authorization=f"{scheme} {KEY}")
                assert response.status_code != 401, (path, scheme)
        ok = await client.get("/features/user/1", headers={"authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200


@pytest.mark.parametrize("header", [KEY, f"Basic {KEY}", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", "Bearer", ""])
async def test_near_misses_are_refused(published: OnlineWriter, make_client: ClientFactory, header: str) -> None:
    async with make_client(api_key=KEY) as client:
        response = await client.get("/features/user/1", headers={"authorization": header})
    assert response.status_code == 401


async def test_without_a_key_nothing_asks_for_one(published: OnlineWriter, client: Client) -> None:
    for method, path, body in GUARDED:
        assert (await call(client, method, path, body)).status_code != 401, path


def test_a_key_with_spaces_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="API_KEY"):
        Settings.from_env({"API_KEY": "two words"})
    assert Settings.from_env({"API_KEY": ""}).api_key is None
    assert KEY not in repr(Settings.from_env({"API_KEY": KEY}))


async def test_cors_is_off_unless_configured(published: OnlineWriter, make_client: ClientFactory) -> None:
    origin = {"origin": "https://app.example"}
    preflight = {**origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization"}

    async with make_client() as closed:
        plain = await closed.get("/features/user/1", headers=origin)
        refused = await closed.options("/features/user/1", headers=preflight)
    async with make_client(cors_origins=("https://app.example",), api_key=KEY) as opened:
        allowed = await opened.get("/features/user/1", headers={**origin, "authorization": f"Bearer {KEY}"})
        answered = await opened.options("/features/user/1", headers=preflight)  # no key on a preflight
        other = await opened.options("/features/user/1", headers={**preflight, "origin": "https://evil.example"})

    assert "access-control-allow-origin" not in plain.headers
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert answered.status_code == 200
    assert "authorization" in answered.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400


async def test_every_response_carries_a_request_id(published: OnlineWriter, client: Client) -> None:
    first = await client.get("/features/user/1")
    second = await client.get("/features/user/1")
    error = await client.get("/features/user/x:1")
    health = await client.get("/health")

    ids = [response.headers["x-request-id"] for response in (first, second, error, health)]
    assert len(set(ids)) == 4
    assert all(len(request_id) == 32 for request_id in ids)


async def test_a_callers_plain_request_id_is_kept_and_a_strange_one_replaced(
    published: OnlineWriter, client: Client
) -> None:
    kept = await client.get("/features/user/1", headers={"x-request-id": "checkout-7f3a:42"})
    replaced = await client.get("/features/user/1", headers={"x-request-id": "a b\tc" + "x" * 200})

    assert kept.headers["x-request-id"] == "checkout-7f3a:42"
    assert replaced.headers["x-request-id"] != "a b\tc" + "x" * 200
    assert len(replaced.headers["x-request-id"]) == 32


async def test_a_redis_password_in_redis_url_is_used_and_never_shown(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        admin = redis.Redis.from_url(server.url)
        admin.config_set("requirepass", "hunter2-redis")  # after start: the start-up check pings without auth
        admin.close()
        url = f"redis://:hunter2-redis@127.0.0.1:{server.port}/0"
        writer = OnlineWriter(url)
        writer.publish(CONTEXT_DEMO)
        writer.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW)
        writer.close()
        async with serve(Settings(redis_url=url, as_of="2026-11-27T12:00:00Z")) as client:
            served = await client.get("/features/user/1")
        wrong = f"redis://:wrong@127.0.0.1:{server.port}/0"
        async with serve(Settings(redis_url=wrong, as_of="2026-11-27T12:00:00Z")) as client:
            refused = await client.get("/features/user/1")

    assert served.json()["features"]["watch_count_30d"] == 4
    assert refused.status_code == 503
    assert "wrong" not in refused.text and "***@127.0.0.1" in refused.text
