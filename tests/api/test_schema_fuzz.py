"""The API against its own OpenAPI schema: schemathesis fuzzes every operation on a real Redis.

The schema is the contract clients code against, so any answer it does not
document (a 5xx, an undocumented status, a body of another shape) is a bug even
when the request was nonsense. Generation is bounded and derandomized, so the
suite stays fast and a failure replays the same way on every machine.

Explicit cases below pin what fuzzing finds only by luck: bodies over the byte
cap, batches over the id cap, ids that could address other Redis keys, unicode,
unknown features; each must be a clear 4xx in the one JSON error shape.
"""

from __future__ import annotations

import json
import os
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.core.config import Settings
from feature_store.online.text import format_timestamp
from tests.api.conftest import Client, ClientFactory
from tests.api.online import NOW, TITLE_STATS, USER_PROFILE, USER_WATCH_STATS, OnlineWriter

MAX_BATCH_IDS = 50
# Per operation and way in (22 runs, well under 60 s in all); API_FUZZ_EXAMPLES=1000 for a deeper, slower run.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "60"))
MAX_BODY_BYTES = 16 << 10
USER_IDS = (1, 2, 3, 42)
TITLE_IDS = ("tt-1", "tt.2", "TT_3")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def write_dataset(online: OnlineWriter) -> None:
    """A few users and titles, with every dtype, nulls, an expired row and a missing view."""
    online.publish()
    for user_id in USER_IDS:
        online.write("user", user_id, USER_WATCH_STATS,
                     {"watch_count_30d": user_id * 3, "avg_minutes_30d": user_id / 7}, NOW)
    online.write("user", 1, USER_PROFILE, {
        "country": "FR", "signup_at": NOW, "is_premium": True,
        "favorite_genres": ["drama", "é ✓"], "recent_ratings": [4.5, 1e-7],
    }, NOW)
    online.write("user", 2, USER_PROFILE, {"country": None, "favorite_genres": []}, NOW)
    for index, title_id in enumerate(TITLE_IDS):
        online.write("title", title_id, TITLE_STATS, {"view_count_7d": index, "avg_rating": 3.25},
                     NOW.replace(month=1) if index == 2 else NOW)  # TT_3 is past the 7-day ttl: expired


# Known disagreements between the API and its schema: (method, path) -> why. Each is fuzzed twice: with
# every check, expected to fail until it is fixed (strict), and without the check it breaks, which must pass.
KNOWN_BUGS: dict[tuple[str, str], tuple[str, Any]] = {}


def documented_operations() -> list[Any]:
    """`(method, path, checks)` of every operation in the schema; building it needs no Redis."""
    paths = create_app(Settings(redis_url="redis://127.0.0.1:1")).openapi()["paths"]
    cases = []
    for path, item in paths.items():
        for method in (name.upper() for name in item):
            label = f"{method} {path}"
            if (method, path) not in KNOWN_BUGS:
                cases.append(pytest.param(method, path, CHECKS, id=label))
                continue
            reason, broken_check = KNOWN_BUGS[method, path]
            cases.append(pytest.param(method, path, CHECKS, id=label,
                                      marks=pytest.mark.xfail(strict=True, reason=reason)))
            others = [check for check in CHECKS if check is not broken_check]
            cases.append(pytest.param(method, path, others, id=f"{label} without {broken_check.__name__}"))
    return cases


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-routes"])
def api_schema(request: pytest.FixtureRequest, online: OnlineWriter, redis_url: str) -> Any:
    """The app's schema, loaded over ASGI, with the app serving the dataset; both ways in are fuzzed."""
    write_dataset(online)
    app = create_app(Settings(
        redis_url=redis_url, as_of=format_timestamp(NOW), max_batch_ids=MAX_BATCH_IDS,
        max_body_bytes=MAX_BODY_BYTES, fast_path=request.param,
    ))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    steer(schema)
    return schema


def steer(schema: Any) -> None:
    """Mix real entities and ids into generated requests, so the 200 paths are fuzzed, not only the 400s."""
    real = [("user", str(i)) for i in USER_IDS] + [("title", i) for i in TITLE_IDS]

    @schema.hook
    def flatmap_path_parameters(context: Any, parameters: dict[str, Any] | None) -> st.SearchStrategy:
        if not parameters or "entity" not in parameters:
            return st.just(parameters)
        return st.one_of(st.just(parameters), st.sampled_from(real).map(
            lambda pair: {**parameters, "entity": pair[0], **({"id": pair[1]} if "id" in parameters else {})}
        ))

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
        if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
            return st.just(body)
        known = st.lists(st.sampled_from([*USER_IDS, *TITLE_IDS, 99999, "99999"]), max_size=8)
        return st.one_of(st.just(body), known.map(lambda ids: {**body, "ids": ids}))


@pytest.mark.parametrize(("method", "path", "checks"), documented_operations())
def test_every_operation_answers_as_documented(api_schema: Any, method: str, path: str, checks: list[Any]) -> None:
    """Valid requests, invalid ones (negative mode) and the schema's own examples, for one operation."""
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        *operation.get_strategies_from_examples(),
    )

    @settings(max_examples=MAX_EXAMPLES, deadline=2000, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=checks)

    fuzz()


# Explicit hostile inputs: every answer a 4xx in the one JSON error shape.



def assert_clear_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.fixture
async def hostile_client(online: OnlineWriter, make_client: ClientFactory) -> Any:
    write_dataset(online)
    async with make_client(max_batch_ids=MAX_BATCH_IDS, max_body_bytes=MAX_BODY_BYTES) as api_client:
        yield api_client


BATCH_PATHS = ("/features/user", "/context/user")


@pytest.mark.anyio
@pytest.mark.parametrize("path", [*BATCH_PATHS, "/get-online-features"])
async def test_a_body_over_the_byte_cap_is_413(hostile_client: Client, path: str) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    body = json.dumps({"ids": [1], "padding": padding}).encode()

    response = await hostile_client.post(path, content=body, headers={"content-type": "application/json"})

    assert_clear_error(response, 413, "payload_too_large")


@pytest.mark.anyio
@pytest.mark.parametrize("path", BATCH_PATHS)
async def test_a_body_over_the_cap_without_a_declared_length_is_413(hostile_client: Client, path: str) -> None:
    """A chunked body has no Content-Length to refuse up front: the limit must hold while reading."""

    async def chunks() -> Any:
        yield b'{"ids": ['
        for _ in range(MAX_BODY_BYTES // 8):
            yield b"1,2,3,4,"
        yield b"5]}"

    response = await hostile_client.post(path, content=chunks(), headers={"content-type": "application/json"})

    assert_clear_error(response, 413, "payload_too_large")


@pytest.mark.anyio
@pytest.mark.parametrize("path", BATCH_PATHS)
async def test_a_batch_over_the_id_cap_is_413(hostile_client: Client, path: str) -> None:
    response = await hostile_client.post(path, json={"ids": list(range(MAX_BATCH_IDS + 1))})

    body = assert_clear_error(response, 413, "payload_too_large")
    assert body["max_ids"] == MAX_BATCH_IDS


@pytest.mark.anyio
async def test_a_feast_batch_over_the_id_cap_is_413(hostile_client: Client) -> None:
    response = await hostile_client.post("/get-online-features", json={
        "features": ["user_watch_stats:watch_count_30d"], "entities": {"user_id": list(range(MAX_BATCH_IDS + 1))},
    })

    assert_clear_error(response, 413, "payload_too_large")


# Each would name another key (`user:1:x`, a pattern, a second line of a protocol) or is outside the alphabet.
HOSTILE_IDS = ["1:2", "user:1", "*", "1*", "?", "[a]", "1\n2", "1\r\nFLUSHALL", "1 2", "\t", "é", "１", "😀",
               "\x00", "-", "1" * 20, "99999999999999999999"]
HOSTILE_STRING_IDS = ["a:b", "*", "tt-1*", "a\nb", "a b", "é", "😀", "\x00", "x" * 129, "../tt-1"]


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
async def test_hostile_ids_in_a_batch_are_422_invalid_id(hostile_client: Client, bad_id: str) -> None:
    for path in BATCH_PATHS:
        response = await hostile_client.post(path, json={"ids": [1, bad_id]})

        body = assert_clear_error(response, 422, "invalid_id")
        assert body["invalid_ids"][0]["index"] == 1


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", HOSTILE_STRING_IDS)
async def test_hostile_string_ids_are_422_invalid_id(hostile_client: Client, bad_id: str) -> None:
    response = await hostile_client.post("/features/title", json={"ids": ["tt-1", bad_id]})

    assert_clear_error(response, 422, "invalid_id")


@pytest.mark.anyio
@pytest.mark.parametrize("bad_id", ["1:2", "*", "1%0A2", "%C3%A9", "%F0%9F%98%80", "1%20", "%00", "1%0D%0AFLUSHALL"])
@pytest.mark.parametrize("prefix", ["/features/user/", "/context/user/"])
async def test_hostile_ids_in_a_path_are_4xx(hostile_client: Client, prefix: str, bad_id: str) -> None:
    response = await hostile_client.get(prefix + bad_id)

    assert_clear_error(response, 422, "invalid_id")


@pytest.mark.anyio
async def test_hostile_ids_never_reach_other_keys(hostile_client: Client, online: OnlineWriter) -> None:
    """`*` or `1:x` must not read a pattern or another hash, and a newline must not inject a command."""
    before = sorted(online.client.keys("*"))

    for bad_id in HOSTILE_IDS:
        await hostile_client.post("/features/user", json={"ids": [bad_id]})

    assert sorted(online.client.keys("*")) == before


@pytest.mark.anyio
@pytest.mark.parametrize("entity", ["nobody", "user:1", "*", "é", "USER"])
async def test_an_unknown_entity_is_400_with_the_valid_ones(hostile_client: Client, entity: str) -> None:
    for response in (
        await hostile_client.get(f"/features/{entity}/1"),
        await hostile_client.post(f"/features/{entity}", json={"ids": [1]}),
        await hostile_client.get(f"/context/{entity}/1"),
    ):
        body = assert_clear_error(response, 400, "unknown_entity")
        assert body["valid_entities"] == ["title", "user"]


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["nope", "watch_count_30d:x", "*", "é", "_ts:user_watch_stats", "view_count_7d"])
async def test_unknown_features_are_400_naming_them(hostile_client: Client, name: str) -> None:
    single = await hostile_client.get("/features/user/1", params={"features": f"watch_count_30d,{name}"})
    batch = await hostile_client.post("/features/user", json={"ids": [1], "features": ["watch_count_30d", name]})
    feast = await hostile_client.post("/get-online-features", json={
        "features": [f"user_watch_stats:{name}"], "entities": {"user_id": [1]},
    })

    for response in (single, batch):
        body = assert_clear_error(response, 400, "unknown_feature")
        assert body["unknown_features"] == [name]
    assert_clear_error(feast, 400)


@pytest.mark.anyio
@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b"{", b'"ids"', b'{"ids": 1}', b'{"ids": null}', b'{"ids": [1], "features": "a"}',
    b'{"ids": [1], "features": [1]}', b'{"ids": [[1]]}', b'{"ids": [{"a": 1}]}', b'{"ids": [1.5]}',
    b'{"ids": [true]}', b'{"ids": [1], "extra": 1}', b"\xff\xfe", '{"ids": ["\u00e9"]}'.encode(),
])
async def test_malformed_batch_bodies_are_422(hostile_client: Client, body: bytes) -> None:
    response = await hostile_client.post("/features/user", content=body, headers={"content-type": "application/json"})

    assert_clear_error(response, 422)


@pytest.mark.anyio
async def test_a_batch_at_the_cap_of_known_and_unknown_ids_is_served_in_order(hostile_client: Client) -> None:
    ids = [*USER_IDS, *range(1000, 1000 + MAX_BATCH_IDS - len(USER_IDS))]

    response = await hostile_client.post("/features/user", json={"ids": ids})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["id"] for result in results] == ids
    assert [result["found"] for result in results] == [True] * len(USER_IDS) + [False] * (len(ids) - len(USER_IDS))


@pytest.mark.anyio
@pytest.mark.parametrize("path", BATCH_PATHS)
async def test_a_huge_batch_under_the_default_caps_is_a_quick_413(
    online: OnlineWriter, make_client: ClientFactory, path: str
) -> None:
    """100,000 ids fit the default 1 MiB body but not the 1,000-id cap: refused before any Redis read."""
    write_dataset(online)
    async with make_client() as api_client:
        response = await api_client.post(path, json={"ids": list(range(100_000))})

    body = assert_clear_error(response, 413, "payload_too_large")
    assert body["max_ids"] == 1000
