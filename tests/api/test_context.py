"""GET /context/{entity}/{id} and POST /context/{entity}: features as prompt text, never `None`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from feature_store.online.text import format_timestamp
from tests.api.conftest import Client, ClientFactory
from tests.api.online import (
    CONTEXT_DEMO,
    MICROSECOND,
    NOW,
    TITLE_STATS,
    USER_PROFILE,
    USER_WATCH_STATS,
    USER_WITH_CONTEXT,
    OnlineWriter,
    ttl_of,
)

pytestmark = pytest.mark.anyio

TTL = ttl_of(USER_WATCH_STATS)
FRESHNESS = USER_WATCH_STATS.freshness
assert TTL is not None
PROFILE = {"country": "NL", "is_premium": True, "favorite_genres": ["drama", "sci-fi"]}
STATS = {"watch_count_30d": 12, "avg_minutes_30d": 51.25}


def write_user(online: OnlineWriter, user_id: int, stats_at=NOW - timedelta(hours=2), **stats) -> None:
    online.write("user", user_id, USER_PROFILE, PROFILE, NOW - timedelta(days=3))
    online.write("user", user_id, USER_WATCH_STATS, {**STATS, **stats}, stats_at)


async def context_of(client: Client, user_id: int) -> dict:
    response = await client.get(f"/context/user/{user_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_full_features_render_the_declared_template(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)
    write_user(online, 42)

    body = await context_of(client, 42)

    assert body["context"] == (
        "User context: from NL, premium: yes, likes drama, sci-fi, watched 12 titles in last 30 days "
        "(51.2 min each)."
    )
    assert (body["entity"], body["id"]) == ("user", 42)
    assert body["features"]["watch_count_30d"] == 12
    assert body["features"]["favorite_genres"] == ["drama", "sci-fi"]
    assert body["views"]["user_watch_stats"] == {
        "event_timestamp": format_timestamp(NOW - timedelta(hours=2)),
        "status": "fresh",
    }
    assert body["values"]["watch_count_30d"] == {
        "value": 12, "status": "fresh", "event_timestamp": format_timestamp(NOW - timedelta(hours=2)), "age": "2 h",
        "view": "user_watch_stats",
    }
    assert body["values"]["country"]["age"] == "3 d"
    assert body == (await client.get("/features/user/42")).json() | {k: body[k] for k in ("context", "values")}


async def test_a_view_without_a_row_renders_unknown(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)
    online.write("user", 7, USER_PROFILE, PROFILE, NOW)

    body = await context_of(client, 7)

    assert body["context"] == (
        "User context: from NL, premium: yes, likes drama, sci-fi, watched unknown titles in last 30 days "
        "(unknown min each)."
    )
    assert body["views"]["user_watch_stats"] == {"event_timestamp": None, "status": "missing"}
    assert "None" not in body["context"]


async def test_null_values_and_empty_lists_render_as_words(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)
    online.write("user", 8, USER_PROFILE, {"country": None, "is_premium": False, "favorite_genres": []}, NOW)
    online.write("user", 8, USER_WATCH_STATS, {"watch_count_30d": 0, "avg_minutes_30d": None}, NOW)

    body = await context_of(client, 8)

    assert body["context"] == (
        "User context: from unknown, premium: no, likes none, watched 0 titles in last 30 days (unknown min each)."
    )


async def test_an_expired_view_renders_unknown_at_the_ttl_edge(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    online.publish(CONTEXT_DEMO)
    write_user(online, 1, stats_at=NOW - TTL)

    async with make_client(as_of=NOW) as at_edge, make_client(as_of=NOW + MICROSECOND) as past_edge:
        inside = await context_of(at_edge, 1)
        outside = await context_of(past_edge, 1)

    assert "watched 12 titles" in inside["context"]
    assert inside["views"]["user_watch_stats"]["status"] == "fresh"
    assert "watched unknown titles in last 30 days (unknown min each)" in outside["context"]
    assert outside["views"]["user_watch_stats"]["status"] == "expired"
    assert outside["features"]["watch_count_30d"] is None


async def test_a_stale_view_renders_its_values_and_says_stale(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    online.publish(CONTEXT_DEMO, last_sync_at=NOW - FRESHNESS - MICROSECOND)
    write_user(online, 1)

    async with make_client() as client:
        body = await context_of(client, 1)

    # The stale view's values carry their age; the fresh view's do not.
    assert body["context"] == (
        "User context: from NL, premium: yes, likes drama, sci-fi, watched 12 (as of 2 h ago) titles in last 30 "
        "days (51.2 (as of 2 h ago) min each)."
    )
    assert body["views"]["user_watch_stats"]["status"] == "stale"
    assert body["values"]["watch_count_30d"]["status"] == "stale"
    assert body["values"]["country"]["status"] == "fresh"


# Fresh, stale, expired and missing, in the entity's own wording, with the features' descriptions.
WORDED = replace(
    USER_WITH_CONTEXT,
    context_template=(
        "{country.description}: {country}. Watched {watch_count_30d} titles ({watch_count_30d.status}, "
        "{watch_count_30d.age} old)."
    ),
    context_stale="{value}, as of {age} ago",
    context_unknown="not known ({reason})",
)
WORDED_DEMO = replace(CONTEXT_DEMO, entities=(WORDED, *CONTEXT_DEMO.entities[1:]))


@pytest.mark.parametrize(
    ("stats_at", "stale", "expected"),
    [
        (NOW - timedelta(minutes=20), False, "About country.: NL. Watched 12 titles (fresh, 20 min old)."),
        (NOW - timedelta(hours=3), True, "About country.: NL. Watched 12, as of 3 h ago titles (stale, 3 h old)."),
        (NOW - TTL - timedelta(days=1), False,
         f"About country.: NL. Watched not known (expired) titles (expired, {TTL.days + 1} d old)."),
        (None, False, "About country.: NL. Watched not known (missing) titles (missing, unknown old)."),
    ],
    ids=["fresh", "stale", "expired", "missing"],
)
async def test_the_text_says_what_it_does_not_know_and_how_old_it_is(
    online: OnlineWriter, client: Client, stats_at, stale: bool, expected: str
) -> None:
    online.publish(WORDED_DEMO, last_sync_at=NOW - FRESHNESS - MICROSECOND if stale else NOW)
    online.write("user", 5, USER_PROFILE, PROFILE, NOW)
    if stats_at is not None:
        online.write("user", 5, USER_WATCH_STATS, STATS, stats_at)

    body = await context_of(client, 5)

    assert body["context"] == expected
    watch_count = body["values"]["watch_count_30d"]
    assert watch_count["status"] == body["views"]["user_watch_stats"]["status"]
    assert watch_count["event_timestamp"] == (format_timestamp(stats_at) if stats_at else None)
    assert watch_count["value"] == (12 if watch_count["status"] in ("fresh", "stale") else None)


async def test_an_entity_without_a_template_lists_its_features(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)
    online.write("title", "tt1", TITLE_STATS, {"view_count_7d": 3, "avg_rating": None}, NOW)

    body = (await client.get("/context/title/tt1")).json()

    assert body["context"] == "Title context: view_count_7d=3, avg_rating=unknown."


async def test_unknown_id_entity_and_malformed_id(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)

    missing = await client.get("/context/user/404")
    entity = await client.get("/context/movie/1")
    malformed = await client.get("/context/user/1%3A2")

    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (entity.status_code, entity.json()["error"]) == (400, "unknown_entity")
    assert (malformed.status_code, malformed.json()["error"]) == (422, "invalid_id")


async def test_a_new_template_is_picked_up_without_a_restart(online: OnlineWriter, client: Client) -> None:
    online.publish(CONTEXT_DEMO)
    write_user(online, 42)
    assert (await context_of(client, 42))["context"].startswith("User context: from NL")

    terse = replace(USER_WITH_CONTEXT, context_template="Subscriber in {country}.")
    online.publish(replace(CONTEXT_DEMO, entities=(terse, *CONTEXT_DEMO.entities[1:])))

    assert (await context_of(client, 42))["context"] == "Subscriber in NL."


async def test_batch_answers_every_id_in_order_with_placeholders_for_unknown_ids(
    online: OnlineWriter, client: Client
) -> None:
    online.publish(CONTEXT_DEMO)
    write_user(online, 1)
    write_user(online, 2, watch_count_30d=5)

    response = await client.post("/context/user", json={"ids": [2, 404, "1"]})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["found"]) for r in results] == [(2, True), (404, False), (1, True)]
    assert "watched 5 titles" in results[0]["context"]
    assert results[1]["context"] == (
        "User context: from unknown, premium: unknown, likes unknown, watched unknown titles in last 30 days "
        "(unknown min each)."
    )
    assert {view["status"] for view in results[1]["views"].values()} == {"missing"}
    single = (await client.get("/context/user/1")).json()
    assert results[2] == {key: single[key] for key in ("id", "context", "features", "views", "values")} | {
        "found": True}
    assert {value["status"] for value in results[1]["values"].values()} == {"missing"}


async def test_batch_limits_and_malformed_bodies(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish(CONTEXT_DEMO)

    async with make_client(max_batch_ids=2, max_body_bytes=64) as client:
        over_cap = await client.post("/context/user", json={"ids": [1, 2, 3]})
        too_big = await client.post("/context/user", json={"ids": list(range(40))})
        with_features = await client.post("/context/user", json={"ids": [1], "features": ["country"]})
        bad_id = await client.post("/context/user", json={"ids": [1, "x*"]})

    assert (over_cap.status_code, over_cap.json()["max_ids"]) == (413, 2)
    assert (too_big.status_code, too_big.json()["max_bytes"]) == (413, 64)
    assert with_features.status_code == 422
    assert "the body takes `ids`" in with_features.json()["detail"]
    assert (bad_id.status_code, bad_id.json()["invalid_ids"][0]["index"]) == (422, 1)
