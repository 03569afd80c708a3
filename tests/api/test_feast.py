"""POST /get-online-features against Feast's documented request and response shapes.

The shapes are Feast's feature server (`feast serve`): the request's `features`
are `view:feature` references and `entities` maps a join key to its ids; the
response is GetOnlineFeaturesResponse as JSON, `metadata.feature_names` and one
`results` column per name (Feast's ServingService.proto: "Length of results
array should match length of requested features", in the order of
feature_names), with the join key first.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import Client, ClientFactory
from tests.api.online import DEMO, MICROSECOND, NOW, TITLE_STATS, USER_PROFILE, USER_WATCH_STATS, OnlineWriter, ttl_of

pytestmark = pytest.mark.anyio

EPOCH = "1970-01-01T00:00:00Z"
TTL = ttl_of(USER_WATCH_STATS)
assert TTL is not None

REQUEST = {
    "features": [
        "user_watch_stats:watch_count_30d",
        "user_watch_stats:avg_minutes_30d",
        "user_profile:country",
    ],
    "entities": {"user_id": [1001, 1002, 1003]},
}


def write_users(online: OnlineWriter) -> None:
    """1001 has everything; 1002 an expired stats row and a null country; 1003 nothing at all."""
    online.write("user", 1001, USER_WATCH_STATS, {"watch_count_30d": 12, "avg_minutes_30d": 0.5}, NOW)
    online.write("user", 1001, USER_PROFILE, {"country": "NL"}, NOW - timedelta(days=2))
    online.write("user", 1002, USER_WATCH_STATS, {"watch_count_30d": 3}, NOW - TTL - MICROSECOND)
    online.write("user", 1002, USER_PROFILE, {"country": None, "is_premium": True}, NOW)


async def test_a_feast_request_gets_feasts_response(online: OnlineWriter, client: Client) -> None:
    online.publish()
    write_users(online)

    response = await client.post("/get-online-features", json=REQUEST)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metadata"] == {"feature_names": ["user_id", "watch_count_30d", "avg_minutes_30d", "country"]}
    assert body["results"] == [
        {
            "values": [1001, 1002, 1003],
            "statuses": ["PRESENT", "PRESENT", "PRESENT"],
            "event_timestamps": [EPOCH, EPOCH, EPOCH],
        },
        {
            "values": [12, None, None],
            "statuses": ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"],
            "event_timestamps": ["2026-11-27T12:00:00Z", "2026-10-28T11:59:59.999999Z", EPOCH],
        },
        {
            "values": [0.5, None, None],
            "statuses": ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND"],
            "event_timestamps": ["2026-11-27T12:00:00Z", "2026-10-28T11:59:59.999999Z", EPOCH],
        },
        {
            "values": ["NL", None, None],
            "statuses": ["PRESENT", "NULL_VALUE", "NOT_FOUND"],
            "event_timestamps": ["2026-11-25T12:00:00Z", "2026-11-27T12:00:00Z", EPOCH],
        },
    ]
    assert set(body) == {"metadata", "results", "views"}  # Feast's keys, and the views' statuses beside them
    assert body["views"] == {
        "user_profile": {
            "statuses": ["fresh", "fresh", "missing"],
            "event_timestamps": ["2026-11-25T12:00:00Z", "2026-11-27T12:00:00Z", None],
        },
        "user_watch_stats": {
            "statuses": ["fresh", "expired", "missing"],
            "event_timestamps": ["2026-11-27T12:00:00Z", "2026-10-28T11:59:59.999999Z", None],
        },
    }


async def test_full_feature_names_and_duplicate_references(online: OnlineWriter, client: Client) -> None:
    online.publish()
    write_users(online)

    body = (
        await client.post(
            "/get-online-features",
            json={
                "features": ["user_profile:country", "user_watch_stats:watch_count_30d", "user_profile:country"],
                "entities": {"user_id": ["1001"]},
                "full_feature_names": True,
            },
        )
    ).json()

    names = body["metadata"]["feature_names"]
    assert names == ["user_id", "user_profile__country", "user_watch_stats__watch_count_30d"]
    assert [column["values"] for column in body["results"]] == [[1001], ["NL"], [12]]


async def test_a_stale_view_is_present_for_feast_and_stale_in_views(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    online.publish(last_sync_at=NOW - USER_WATCH_STATS.freshness - MICROSECOND)
    write_users(online)

    async with make_client() as client:
        body = (await client.post("/get-online-features", json=REQUEST)).json()

    assert body["results"][1]["statuses"][0] == "PRESENT"
    assert body["views"]["user_watch_stats"]["statuses"][0] == "stale"


async def test_string_keyed_entity(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("title", "tt1", TITLE_STATS, {"view_count_7d": 3}, NOW)

    body = (
        await client.post(
            "/get-online-features",
            json={"features": ["title_stats:view_count_7d"], "entities": {"title_id": ["tt1", "tt2"]}},
        )
    ).json()

    assert body["results"][1] == {
        "values": [3, None],
        "statuses": ["PRESENT", "NOT_FOUND"],
        "event_timestamps": ["2026-11-27T12:00:00Z", EPOCH],
    }


@pytest.mark.parametrize(
    "request_body,status,code,words",
    [
        ({"features": ["user_watch_stats:nope"], "entities": {"user_id": [1]}}, 400, "unknown_feature",
         "'user_watch_stats:nope'"),
        ({"features": ["nope:watch_count_30d"], "entities": {"user_id": [1]}}, 400, "unknown_feature", "nope"),
        ({"features": ["watch_count_30d"], "entities": {"user_id": [1]}}, 422, "invalid_request", "view:feature"),
        ({"features": ["user_profile:country", "title_stats:avg_rating"], "entities": {"user_id": [1]}}, 400,
         "unsupported_request", "several entities"),
        ({"features": ["user_profile:country"], "entities": {"title_id": [1]}}, 422, "invalid_request",
         "keyed by user_id"),
        ({"features": ["user_profile:country"], "entities": {"user_id": [1], "title_id": ["a"]}}, 422,
         "invalid_request", "exactly one join key"),
        ({"feature_service": "driver_activity", "entities": {"user_id": [1]}}, 400, "unsupported_request",
         "feature services"),
        ({"features": ["user_profile:country"], "entities": {"user_id": [1]}, "request_context": {"a": [1]}}, 400,
         "unsupported_request", "request_context"),
        ({"features": [], "entities": {"user_id": [1]}}, 422, "invalid_request", "non-empty"),
        ({"features": ["user_profile:country"], "entities": {"user_id": [1, "2:3"]}}, 422, "invalid_id", "'2:3'"),
        ({"features": ["user_profile:country"], "entities": {"user_id": [1]}, "full_feature_names": "yes"}, 422,
         "invalid_request", "true or false"),
        ({"features": ["user_profile:country"], "entities": {"user_id": [1]}, "project": "x"}, 422,
         "invalid_request", "unexpected field(s) project"),
    ],
)
async def test_refusals(
    online: OnlineWriter, client: Client, request_body: dict, status: int, code: str, words: str
) -> None:
    online.publish()

    response = await client.post("/get-online-features", json=request_body)

    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert words in response.json()["detail"]


async def test_row_and_body_limits(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish()

    async with make_client(max_batch_ids=2, max_body_bytes=200) as client:
        at_cap = await client.post(
            "/get-online-features", json={"features": ["user_profile:country"], "entities": {"user_id": [1, 2]}}
        )
        over_cap = await client.post(
            "/get-online-features", json={"features": ["user_profile:country"], "entities": {"user_id": [1, 2, 3]}}
        )
        too_big = await client.post(
            "/get-online-features", json={"features": ["user_profile:country"] * 20, "entities": {"user_id": [1]}}
        )

    assert at_cap.status_code == 200
    assert (over_cap.status_code, over_cap.json()["max_ids"]) == (413, 2)
    assert (too_big.status_code, too_big.json()["max_bytes"]) == (413, 200)


async def test_a_feature_published_meanwhile_is_not_refused(online: OnlineWriter, client: Client) -> None:
    from feature_store.registry.model import Registry
    from tests.api.online import USER

    online.publish(Registry(entities=(USER,), views=(USER_PROFILE,), project="demo"))
    online.write("user", 1, USER_PROFILE, {"country": "NL"}, NOW)
    assert (await client.post("/get-online-features", json=REQUEST)).status_code == 400

    online.publish(DEMO)

    response = await client.post("/get-online-features", json=REQUEST)
    assert response.status_code == 200
