"""POST /features/{entity}: many ids in one round trip, in order, with per-id `found`."""

from __future__ import annotations

import pytest

from feature_store.online.reader.pipe import RedisPipe
from tests.api.conftest import Client, ClientFactory, store_of
from tests.api.online import NOW, USER_WATCH_STATS, OnlineWriter

pytestmark = pytest.mark.anyio


def write_users(online: OnlineWriter, *ids: int) -> None:
    for user_id in ids:
        online.write("user", user_id, USER_WATCH_STATS, {"watch_count_30d": user_id * 10}, NOW)


async def test_results_come_in_the_order_asked_with_found_per_id(
    online: OnlineWriter, client: Client
) -> None:
    online.publish()
    write_users(online, 1, 2, 3)

    response = await client.post(
        "/features/user", json={"ids": [3, "1", 404, 2, 3], "features": ["watch_count_30d"]}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["entity"] == "user"
    assert [(r["id"], r["found"], r["features"]["watch_count_30d"]) for r in body["results"]] == [
        (3, True, 30),
        (1, True, 10),
        (404, False, None),
        (2, True, 20),
        (3, True, 30),
    ]
    assert body["results"][0]["views"] == {
        "user_watch_stats": {"event_timestamp": "2026-11-27T12:00:00Z", "status": "fresh"}
    }


async def test_not_found_ids_have_the_same_shape_as_found_ones(online: OnlineWriter, client: Client) -> None:
    online.publish()
    write_users(online, 1)

    body = (await client.post("/features/user", json={"ids": [1, 2]})).json()

    found, missing = body["results"]
    assert set(found["features"]) == set(missing["features"])
    assert set(missing["features"].values()) == {None}
    assert set(missing["views"]) == {"user_profile", "user_watch_stats"}
    assert {view["status"] for view in missing["views"].values()} == {"missing"}


async def test_empty_batch_is_an_empty_answer(online: OnlineWriter, client: Client) -> None:
    online.publish()

    response = await client.post("/features/user", json={"ids": []})

    assert response.json() == {"entity": "user", "results": []}


async def test_batch_at_the_cap_is_served_and_over_it_is_413(
    online: OnlineWriter, make_client: ClientFactory
) -> None:
    online.publish()
    write_users(online, 1)

    async with make_client(max_batch_ids=3) as client:
        at_cap = await client.post("/features/user", json={"ids": [1, 2, 3]})
        over_cap = await client.post("/features/user", json={"ids": [1, 2, 3, 4]})

    assert at_cap.status_code == 200
    assert over_cap.status_code == 413
    assert over_cap.json()["error"] == "payload_too_large"
    assert over_cap.json()["max_ids"] == 3
    assert "4 ids" in over_cap.json()["detail"]


async def test_default_cap_is_1000(online: OnlineWriter, client: Client) -> None:
    online.publish()

    at_cap = await client.post("/features/user", json={"ids": list(range(1000))})
    over_cap = await client.post("/features/user", json={"ids": list(range(1001))})

    assert at_cap.status_code == 200
    assert len(at_cap.json()["results"]) == 1000
    assert over_cap.status_code == 413


async def test_body_over_the_byte_limit_is_413(online: OnlineWriter, make_client: ClientFactory) -> None:
    online.publish()

    async with make_client(max_body_bytes=64) as client:
        response = await client.post("/features/user", json={"ids": list(range(100))})

    assert response.status_code == 413
    assert response.json()["max_bytes"] == 64


async def test_malformed_id_is_422_naming_it(online: OnlineWriter, client: Client) -> None:
    online.publish()

    response = await client.post("/features/user", json={"ids": [1, "2:3", 4, True, "x*"]})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_id"
    assert "'2:3'" in body["detail"]
    assert [(problem["index"], problem["id"]) for problem in body["invalid_ids"]] == [
        (1, "2:3"),
        (3, True),
        (4, "x*"),
    ]


async def test_string_entity_refuses_non_string_ids(online: OnlineWriter, client: Client) -> None:
    online.publish()

    response = await client.post("/features/title", json={"ids": ["tt1", 2]})

    assert response.status_code == 422
    assert response.json()["invalid_ids"][0]["index"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"features": ["x"]}',
        b'{"ids": 5}',
        b'{"ids": [1], "features": "a"}',
        b'{"ids": [1], "extra": 1}',
    ],
)
async def test_malformed_body_is_422(online: OnlineWriter, client: Client, body: bytes) -> None:
    online.publish()

    response = await client.post("/features/user", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["detail"]


async def test_unknown_entity_and_feature_are_400(online: OnlineWriter, client: Client) -> None:
    online.publish()

    entity = await client.post("/features/movie", json={"ids": [1]})
    feature = await client.post("/features/user", json={"ids": [1], "features": ["nope"]})

    assert (entity.status_code, entity.json()["error"]) == (400, "unknown_entity")
    assert (feature.status_code, feature.json()["error"]) == (400, "unknown_feature")


async def test_every_id_is_read_in_one_round_trip(
    online: OnlineWriter, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the registry is cached, a request is one round trip: the version GET and one HGETALL per id."""
    online.publish()
    write_users(online, *range(50))
    await client.get("/features/user/1")  # the registry is cached from here on
    pipe = store_of(client).pipe
    assert isinstance(pipe, RedisPipe)  # the fixture's Redis is one server
    round_trips: list[list[str]] = []
    real_execute = pipe.execute_packed  # every round trip goes through it, packed as RESP

    async def counting_execute(packed: bytes, count: int):
        lines = packed.split(b"\r\n")  # *<argc>, $<len>, <command name>, ...
        names = [lines[index + 2] for index, line in enumerate(lines) if line.startswith(b"*")]
        round_trips.append([name.decode() for name in names])
        assert len(names) == count
        return await real_execute(packed, count)

    monkeypatch.setattr(pipe, "execute_packed", counting_execute)

    batch = await client.post("/features/user", json={"ids": list(range(60))})
    single = await client.get("/features/user/7")

    assert batch.status_code == single.status_code == 200
    assert round_trips == [["GET"] + ["HGETALL"] * 60, ["GET", "HGETALL"]]
