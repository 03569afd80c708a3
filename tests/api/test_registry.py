"""GET /registry, and a new publish picked up by a running app without a restart."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from feature_store.registry.model import Registry
from tests.api.conftest import Client
from tests.api.online import DEMO, NOW, TITLE, USER, USER_PROFILE, USER_WATCH_STATS, OnlineWriter, view

pytestmark = pytest.mark.anyio


async def test_registry_lists_entities_views_features_and_sync_state(
    online: OnlineWriter, client: Client
) -> None:
    online.publish(last_sync_at={"user_profile": NOW, "user_watch_stats": NOW - timedelta(hours=2)})

    response = await client.get("/registry")

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1"
    assert body["project"] == "demo"
    assert body["entities"]["user"] == {
        "join_keys": ["user_id"],
        "dtype": "int64",
        "description": "A subscriber.",
    }
    stats = body["views"]["user_watch_stats"]
    assert (stats["entity"], stats["freshness"], stats["ttl"], stats["owner"]) == (
        "user",
        "1h",
        "30d",
        "growth",
    )
    assert {"name": "watch_count_30d", "dtype": "int64", "description": "About watch_count_30d."} in stats[
        "features"
    ]
    assert stats["sync"]["last_sync_at"] == "2026-11-27T10:00:00Z"
    assert stats["sync"]["rows"] == "1"
    assert stats["sync"]["stale"] is True
    assert body["views"]["user_profile"]["sync"]["stale"] is False
    assert body["views"]["title_stats"]["sync"] == {"stale": True}  # never synced
    assert Registry.from_dict(body).to_dict() == DEMO.to_dict()  # the registry as published


async def test_registry_without_a_publish_is_503(online: OnlineWriter, client: Client) -> None:
    response = await client.get("/registry")

    assert response.status_code == 503
    assert response.json() == {
        "error": "no_registry",
        "detail": "no feature registry in Redis: run `python -m sync`",
    }


async def test_features_without_a_publish_are_503_then_served_once_published(
    online: OnlineWriter, client: Client
) -> None:
    before = await client.get("/features/user/1")
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW)
    after = await client.get("/features/user/1")

    assert before.status_code == 503
    assert before.json()["detail"] == "no feature registry in Redis: run `python -m sync`"
    assert after.status_code == 200


async def test_a_new_publish_is_picked_up_without_a_restart(online: OnlineWriter, client: Client) -> None:
    first = Registry(entities=(USER,), views=(USER_PROFILE,), project="demo")
    online.publish(first)
    online.write("user", 1, USER_PROFILE, {"country": "NL"}, NOW)

    unknown_yet = await client.get("/features/user/1?features=watch_count_30d")
    assert unknown_yet.status_code == 400
    assert (await client.get("/features/title/t1")).status_code == 400

    online.publish(DEMO)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW)

    known_now = await client.get("/features/user/1?features=watch_count_30d")
    assert known_now.status_code == 200
    assert known_now.json()["features"] == {"watch_count_30d": 3}
    assert (await client.get("/registry")).json()["version"] == "2"


async def test_a_publish_that_removes_a_feature_is_picked_up(online: OnlineWriter, client: Client) -> None:
    online.publish(DEMO)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3, "avg_minutes_30d": 2.0}, NOW)
    assert (await client.get("/features/user/1?features=avg_minutes_30d")).status_code == 200

    slimmer = view("user_watch_stats", "user", {"watch_count_30d": "int64"})
    online.publish(Registry(entities=(USER, TITLE), views=(USER_PROFILE, slimmer), project="demo"))

    response = await client.get("/features/user/1?features=avg_minutes_30d")
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_feature"


async def test_view_states_are_reloaded_with_each_publish(online: OnlineWriter, client: Client) -> None:
    online.publish(last_sync_at=NOW - timedelta(hours=3))
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW)
    stale = (await client.get("/features/user/1")).json()["views"]["user_watch_stats"]["status"]

    online.publish(last_sync_at=NOW)
    fresh = (await client.get("/features/user/1")).json()["views"]["user_watch_stats"]["status"]

    assert (stale, fresh) == ("stale", "fresh")


async def test_a_changed_ttl_applies_from_the_next_read(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW - timedelta(days=10))
    assert (await client.get("/features/user/1")).json()["features"]["watch_count_30d"] == 3

    online.publish(replace(DEMO, views=(USER_PROFILE, replace(USER_WATCH_STATS, ttl=timedelta(days=7)))))

    body = (await client.get("/features/user/1")).json()
    assert body["views"]["user_watch_stats"]["status"] == "expired"


async def test_flushed_redis_is_noticed(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW)
    assert (await client.get("/features/user/1")).status_code == 200

    online.client.flushall()

    response = await client.get("/features/user/1")
    assert response.status_code == 503
    assert response.json()["error"] == "no_registry"


async def test_unreadable_registry_is_503(online: OnlineWriter, client: Client) -> None:
    online.client.set("{_fs}:registry", "{not json")

    response = await client.get("/features/user/1")

    assert response.status_code == 503
    assert response.json()["error"] == "invalid_registry"
