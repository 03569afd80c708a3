"""Per-view status at read time: expired by ttl (event time), stale by freshness (last sync), at the edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from feature_store.online.text import format_timestamp
from tests.api.conftest import ClientFactory
from tests.api.online import DEMO, MICROSECOND, NOW, USER_PROFILE, USER_WATCH_STATS, OnlineWriter, ttl_of, with_views

pytestmark = pytest.mark.anyio

TTL = ttl_of(USER_WATCH_STATS)
FRESHNESS = USER_WATCH_STATS.freshness
assert TTL is not None


async def read_user(make_client: ClientFactory, user_id: int, **settings) -> dict:
    async with make_client(**settings) as client:
        response = await client.get(f"/features/user/{user_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_row_exactly_ttl_old_is_served_and_one_microsecond_older_is_expired(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5, "avg_minutes_30d": 1.5}, NOW - TTL)
    online.write(
        "user", 2, USER_WATCH_STATS, {"watch_count_30d": 6, "avg_minutes_30d": 2.5}, NOW - TTL - MICROSECOND
    )

    at_edge = await read_user(make_client, 1)
    past_edge = await read_user(make_client, 2)

    assert at_edge["views"]["user_watch_stats"]["status"] == "fresh"
    assert at_edge["features"]["watch_count_30d"] == 5
    assert past_edge["views"]["user_watch_stats"] == {
        "event_timestamp": format_timestamp(NOW - TTL - MICROSECOND),
        "status": "expired",
    }
    assert past_edge["features"]["watch_count_30d"] is None
    assert past_edge["features"]["avg_minutes_30d"] is None


async def test_the_same_row_expires_as_the_read_clock_moves(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    event_ts = NOW - timedelta(days=10)
    online.publish(last_sync_at=event_ts + TTL)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, event_ts)

    inside = await read_user(make_client, 1, as_of=event_ts + TTL)
    outside = await read_user(make_client, 1, as_of=event_ts + TTL + MICROSECOND)

    assert (inside["views"]["user_watch_stats"]["status"], inside["features"]["watch_count_30d"]) == (
        "fresh",
        5,
    )
    assert (outside["views"]["user_watch_stats"]["status"], outside["features"]["watch_count_30d"]) == (
        "expired",
        None,
    )


async def test_view_synced_exactly_freshness_ago_is_fresh_and_one_microsecond_more_is_stale(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    synced = NOW - timedelta(minutes=5)
    online.publish(last_sync_at=synced)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, synced)

    inside = await read_user(make_client, 1, as_of=synced + FRESHNESS)
    outside = await read_user(make_client, 1, as_of=synced + FRESHNESS + MICROSECOND)

    assert inside["views"]["user_watch_stats"]["status"] == "fresh"
    assert outside["views"]["user_watch_stats"]["status"] == "stale"
    assert outside["features"]["watch_count_30d"] == 5  # stale is served, only flagged


async def test_a_view_never_synced_is_stale(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish(last_sync_at={"user_profile": NOW})
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW)

    body = await read_user(make_client, 1)

    assert body["views"]["user_watch_stats"]["status"] == "stale"


async def test_expired_wins_over_stale(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish(last_sync_at=NOW - FRESHNESS - MICROSECOND)
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW - TTL - MICROSECOND)

    body = await read_user(make_client, 1)

    assert body["views"]["user_watch_stats"]["status"] == "expired"


async def test_statuses_are_judged_per_view(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish(last_sync_at={"user_profile": NOW - timedelta(days=2), "user_watch_stats": NOW})
    online.write(
        "user", 1, USER_PROFILE, {"country": "NL"}, NOW - timedelta(days=3650)
    )  # no ttl: never expires
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW - TTL - timedelta(seconds=1))

    body = await read_user(make_client, 1)

    assert body["views"]["user_profile"]["status"] == "stale"
    assert body["views"]["user_watch_stats"]["status"] == "expired"
    assert body["features"]["country"] == "NL"
    assert body["features"]["watch_count_30d"] is None


async def test_entity_with_every_view_expired_is_still_found(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    expiring_profile = replace(USER_PROFILE, ttl=timedelta(days=1))
    online.publish(with_views(DEMO, expiring_profile))
    online.write("user", 1, expiring_profile, {"country": "NL"}, NOW - timedelta(days=2))
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW - timedelta(days=31))

    async with make_client() as client:
        single = await client.get("/features/user/1")
        batch = await client.post("/features/user", json={"ids": [1]})

    assert single.status_code == 200
    assert {view["status"] for view in single.json()["views"].values()} == {"expired"}
    assert set(single.json()["features"].values()) == {None}
    assert batch.json()["results"][0]["found"] is True


async def test_clock_comes_from_the_environment_when_settings_do_not_pin_it(
    online: OnlineWriter, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW - TTL)

    monkeypatch.setenv("FEATURE_STORE_AS_OF", format_timestamp(NOW + MICROSECOND))
    body = await read_user(make_client, 1, as_of=None)

    assert body["views"]["user_watch_stats"]["status"] == "expired"
