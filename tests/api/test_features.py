"""GET /features/{entity}/{id}: decoding, selection, and the 400/404/422 answers."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from feature_store.online.text import format_timestamp
from tests.api.conftest import Client, ClientFactory
from tests.api.online import NOW, TITLE_STATS, USER_PROFILE, USER_WATCH_STATS, OnlineWriter

pytestmark = pytest.mark.anyio

SIGNUP = NOW - timedelta(days=400, microseconds=-123456)


def write_user_42(online: OnlineWriter) -> None:
    online.write(
        "user",
        42,
        USER_PROFILE,
        {
            "country": "NL",
            "signup_at": SIGNUP,
            "is_premium": True,
            "favorite_genres": ["drama", "sci-fi"],
            "recent_ratings": [4.5, 3.0],
        },
        NOW - timedelta(days=3),
    )
    online.write(
        "user",
        42,
        USER_WATCH_STATS,
        {"watch_count_30d": 12, "avg_minutes_30d": 51.25},
        NOW - timedelta(hours=2),
    )


async def test_found_entity_has_every_feature_decoded_to_its_dtype(
    online: OnlineWriter, client: Client
) -> None:
    online.publish()
    write_user_42(online)

    response = await client.get("/features/user/42")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "entity": "user",
        "id": 42,
        "features": {
            "country": "NL",
            "signup_at": format_timestamp(SIGNUP),
            "is_premium": True,
            "favorite_genres": ["drama", "sci-fi"],
            "recent_ratings": [4.5, 3.0],
            "watch_count_30d": 12,
            "avg_minutes_30d": 51.25,
        },
        "views": {
            "user_profile": {"event_timestamp": format_timestamp(NOW - timedelta(days=3)), "status": "fresh"},
            "user_watch_stats": {
                "event_timestamp": format_timestamp(NOW - timedelta(hours=2)),
                "status": "fresh",
            },
        },
    }
    features = response.json()["features"]
    assert type(features["watch_count_30d"]) is int
    assert type(features["avg_minutes_30d"]) is float
    assert type(features["is_premium"]) is bool
    assert features["signup_at"].endswith(".123456Z")


async def test_feature_selection_returns_only_named_features_and_their_views(
    online: OnlineWriter, client: Client
) -> None:
    online.publish()
    write_user_42(online)

    response = await client.get("/features/user/42", params={"features": "watch_count_30d, country,country"})

    assert response.status_code == 200
    body = response.json()
    assert list(body["features"]) == ["watch_count_30d", "country"]
    assert body["features"] == {"watch_count_30d": 12, "country": "NL"}
    assert set(body["views"]) == {"user_watch_stats", "user_profile"}

    only_stats = (await client.get("/features/user/42?features=avg_minutes_30d")).json()
    assert only_stats["features"] == {"avg_minutes_30d": 51.25}
    assert list(only_stats["views"]) == ["user_watch_stats"]


async def test_null_features_and_views_without_a_row_are_served_as_null(
    online: OnlineWriter, client: Client
) -> None:
    online.publish()
    online.write("user", 7, USER_WATCH_STATS, {"watch_count_30d": 0, "avg_minutes_30d": None}, NOW)

    body = (await client.get("/features/user/7")).json()

    assert body["features"]["watch_count_30d"] == 0
    assert body["features"]["avg_minutes_30d"] is None
    assert body["features"]["country"] is None
    assert body["views"]["user_profile"] == {"event_timestamp": None, "status": "missing"}


async def test_float_values_round_trip_exactly(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write(
        "user", 1, USER_WATCH_STATS, {"watch_count_30d": -(2**63), "avg_minutes_30d": 0.1 + 0.2}, NOW
    )

    features = (await client.get("/features/user/1")).json()["features"]

    assert features["watch_count_30d"] == -(2**63)
    assert features["avg_minutes_30d"] == 0.1 + 0.2


async def test_string_keyed_entity(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("title", "tt-0042.b_x", TITLE_STATS, {"view_count_7d": 3, "avg_rating": 4.0}, NOW)

    body = (await client.get("/features/title/tt-0042.b_x")).json()

    assert body["id"] == "tt-0042.b_x"
    assert body["features"] == {"view_count_7d": 3, "avg_rating": 4.0}


async def test_int_ids_are_canonical(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 7, USER_WATCH_STATS, {"watch_count_30d": 1}, NOW)
    online.write("user", -3, USER_WATCH_STATS, {"watch_count_30d": 2}, NOW)

    leading_zeros = (await client.get("/features/user/007")).json()
    negative = (await client.get("/features/user/-3")).json()

    assert (leading_zeros["id"], leading_zeros["features"]["watch_count_30d"]) == (7, 1)
    assert (negative["id"], negative["features"]["watch_count_30d"]) == (-3, 2)


async def test_unknown_entity_is_400_naming_the_valid_entities(online: OnlineWriter, client: Client) -> None:
    online.publish()

    response = await client.get("/features/movie/1")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unknown_entity"
    assert body["valid_entities"] == ["title", "user"]
    assert "title, user" in body["detail"]


async def test_unknown_feature_is_400_naming_the_valid_features(online: OnlineWriter, client: Client) -> None:
    online.publish()
    write_user_42(online)

    response = await client.get("/features/user/42?features=watch_count_30d,view_count_7d")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unknown_feature"
    assert body["unknown_features"] == ["view_count_7d"]
    assert "watch_count_30d" in body["valid_features"]
    assert "view_count_7d" not in body["valid_features"]  # a feature of another entity


async def test_empty_feature_selection_is_400(online: OnlineWriter, client: Client) -> None:
    online.publish()

    response = await client.get("/features/user/42?features=,")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_feature_selection"


async def test_unknown_id_is_404_json(online: OnlineWriter, client: Client) -> None:
    online.publish()
    write_user_42(online)

    response = await client.get("/features/user/43")

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "no user with id 43 in the online store",
        "entity": "user",
        "id": 43,
    }


@pytest.mark.parametrize(
    "bad_id",
    [
        "1:2",
        "*",
        "a b",
        "1\n",
        "\n",
        "4\x00",
        "\u0664\u0662",
        "12\u00e9",
        "1" * 20,
        "99999999999999999999",
        "9223372036854775808",
        "abc",
        "+5",
        "1.0",
        "1e3",
        " 1",
        "1_000",
        "--1",
    ],
)
async def test_malformed_int_ids_are_422(online: OnlineWriter, client: Client, bad_id: str) -> None:
    online.publish()

    response = await client.get(f"/features/user/{quote(bad_id, safe='')}")

    assert response.status_code == 422, bad_id
    body = response.json()
    assert body["error"] == "invalid_id"
    assert body["invalid_ids"][0]["id"] == bad_id


@pytest.mark.parametrize("bad_id", ["1:2", "*", "user:*", "a b", "a\nb", "x\r", "tab\t", "\u00fc", "a" * 129])
async def test_malformed_string_ids_are_422(online: OnlineWriter, client: Client, bad_id: str) -> None:
    online.publish()

    response = await client.get(f"/features/title/{quote(bad_id, safe='')}")

    assert response.status_code == 422, bad_id
    assert response.json()["error"] == "invalid_id"


async def test_longest_string_id_is_accepted(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("title", "a" * 128, TITLE_STATS, {"view_count_7d": 1}, NOW)

    response = await client.get(f"/features/title/{'a' * 128}")

    assert response.status_code == 200
    assert response.json()["features"]["view_count_7d"] == 1


async def test_an_id_never_reaches_another_key(online: OnlineWriter, client: Client) -> None:
    """`user:42:x` or a glob would name a key other than the entity's hash: refused before Redis."""
    online.publish()
    write_user_42(online)
    online.client.hset("user:42:secret", "watch_count_30d", "1")

    for bad_id in ("42:secret", "4*", "4?", "[4]"):
        response = await client.get(f"/features/user/{quote(bad_id, safe='')}")
        assert response.status_code == 422, bad_id


async def test_key_prefix_is_honoured(redis_url: str, make_client: ClientFactory) -> None:
    shared = OnlineWriter(redis_url, prefix="team-a:")
    shared.publish()
    shared.write("user", 5, USER_WATCH_STATS, {"watch_count_30d": 9}, NOW)
    shared.close()

    async with make_client(key_prefix="team-a:") as prefixed:
        found = await prefixed.get("/features/user/5?features=watch_count_30d")
    async with make_client() as unprefixed:
        missing = await unprefixed.get("/features/user/5")

    assert found.json()["features"] == {"watch_count_30d": 9}
    assert missing.status_code == 503
    assert missing.json()["error"] == "no_registry"


async def test_corrupt_value_is_a_json_500_naming_the_key(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 8, USER_WATCH_STATS, {"watch_count_30d": 1}, NOW)
    online.client.hset("user:8", "watch_count_30d", "twelve")

    response = await client.get("/features/user/8")

    assert response.status_code == 500
    assert response.json()["error"] == "corrupt_value"
    assert "user:8" in response.json()["detail"]
