"""POST /push over real HTTP into a real Redis: what is kept, what is refused, and that values never go back."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import redis

from tests.conftest import PROJECT_DIR
from tests.push.stack import (
    VIEW,
    Stack,
    api_process,
    log_snapshot,
    logged_rows,
    recent,
    redis_snapshot,
    row,
)
from tests.sync_cli import synced


def test_a_push_is_kept_and_served_at_once(stack: Stack) -> None:
    before = stack.features(1)["features"]["last_genre"]
    at = recent(5)
    answer = stack.push([row(1, at, "pushed-genre", 77)])
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 1 and answer.json()["online"] == {"applied": 1, "kept_newer": 0}
    served = stack.features(1)
    assert served["features"]["last_genre"] == "pushed-genre" != before
    assert served["features"]["last_title_id"] == 77
    assert served["views"][VIEW]["event_timestamp"] == at.isoformat().replace("+00:00", "Z")
    (kept,) = logged_rows(stack.log)
    assert kept["user_id"] == 1 and kept["last_genre"] == "pushed-genre" and kept["loaded_at"]  # filled on ingest
    context = httpx.get(f"{stack.api}/context/user/1", timeout=10).json()
    assert "last genre watched: pushed-genre" in context["context"]


def test_columns_and_feast_shapes(stack: Stack) -> None:
    at = recent(10)
    columns = {"user_id": [2, 3], "event_timestamp": [at.isoformat(), at.isoformat()],
               "last_genre": ["a", "b"], "last_title_id": [1, 2]}
    assert stack.push(columns).status_code == 200
    df: dict[str, list[Any]] = {"user_id": [4], "event_timestamp": [at.isoformat()], "last_genre": ["c"],
                                "last_title_id": [3]}
    feast: dict[str, Any] = {"push_source_name": VIEW, "to": "online_and_offline", "df": df}
    answer = httpx.post(f"{stack.api}/push", json=feast, timeout=10)
    assert answer.status_code == 200, answer.text
    offline_only = {**feast, "to": "offline", "df": {**df, "user_id": [5]}}
    before = stack.features(5)["features"]["last_genre"]
    assert httpx.post(f"{stack.api}/push", json=offline_only, timeout=10).status_code == 200
    assert [stack.features(i)["features"]["last_genre"] for i in (2, 3, 4, 5)] == ["a", "b", "c", before]
    assert sorted(r["user_id"] for r in logged_rows(stack.log)) == [2, 3, 4, 5]


def test_bad_rows_of_every_kind_are_refused_and_nothing_is_written(stack: Stack) -> None:
    good = row(1, recent(5), "fine", 1)
    assert stack.push([good]).status_code == 200  # the log and Redis hold something to compare
    redis_before, log_before = redis_snapshot(stack.redis_url), log_snapshot(stack.log)
    at = recent(5)
    bad = [
        {k: v for k, v in row(1, at, "x").items() if k != "user_id"},  # no key
        {**row(1, at, "x"), "user_id": "one"},  # key of the wrong type
        {**row(1, at, "x"), "user_id": True},  # a bool is not an int64
        {k: v for k, v in row(1, at, "x").items() if k != "event_timestamp"},  # no timestamp
        {**row(1, at, "x"), "event_timestamp": "yesterday"},  # not a timestamp
        {**row(1, at, "x"), "event_timestamp": "2999-01-01T00:00:00Z"},  # in the future
        {**row(1, at, "x"), "last_title_id": "seven"},  # feature of the wrong type
        {**row(1, at, "x"), "last_title_id": 1.5},  # a float is not an int64
        {**row(1, at, "x"), "last_genre": 3},  # not a string
        {k: v for k, v in row(1, at, "x").items() if k != "last_genre"},  # a missing feature
        {**row(1, at, "x"), "colour": "red"},  # an unknown column
        {**row(1, at, "x"), "loaded_at": "not a time"},  # a bad created timestamp
        {**row(1, at, "x"), "last_title_id": 2**63},  # out of the int64 range
        "not an object",
    ]
    for batch in ([*bad, good], [good, *bad]):
        answer = stack.push(batch)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert body["error"] == "invalid_rows" and body["invalid_count"] == len(bad)
        indexes = [problem["index"] for problem in body["invalid_rows"]]
        assert indexes == (list(range(len(bad))) if batch[0] is not good else list(range(1, len(bad) + 1)))
    reasons = [p["reason"] for p in stack.push(bad).json()["invalid_rows"]]
    for index, expected in enumerate(["missing join key 'user_id'", "is not an int64", "is not an int64",
                                      "missing event timestamp", "invalid timestamp", "after the time of the push",
                                      "is not an int64", "is not an int64", "is not a string",
                                      "missing feature 'last_genre'", "unknown column(s) 'colour'",
                                      "invalid timestamp", "outside the int64 range", "must be an object"]):
        assert expected in reasons[index], (index, reasons[index])
    shapes: tuple[Any, ...] = ({"user_id": [1, 2], "event_timestamp": [at.isoformat()], "last_genre": ["a", "b"],
                   "last_title_id": [1, 2]}, [], {"user_id": 1}, "rows")
    for shape in shapes:
        assert stack.push(shape).status_code == 422
    assert httpx.post(f"{stack.api}/push/{VIEW}", content=b"{not json", timeout=10).status_code == 422
    feast = {"push_source_name": VIEW, "df": {"user_id": [1], "event_timestamp": ["nope"], "last_genre": ["a"],
                                              "last_title_id": [1]}}
    assert httpx.post(f"{stack.api}/push", json=feast, timeout=10).status_code == 422
    assert httpx.post(f"{stack.api}/push", json={**feast, "to": "somewhere"}, timeout=10).status_code == 422
    assert redis_snapshot(stack.redis_url) == redis_before
    assert log_snapshot(stack.log) == log_before


def test_views_that_take_no_pushes_are_refused_by_name(stack: Stack) -> None:
    redis_before = redis_snapshot(stack.redis_url)
    for view in ("user_segment", "no_such_view"):
        answer = stack.push([row(1, recent(5), "x")], view=view)
        assert answer.status_code == 404, answer.text
        assert view in answer.json()["detail"] and answer.json()["push_fed_views"] == [VIEW]
    assert redis_snapshot(stack.redis_url) == redis_before
    assert not list(stack.project.path.glob("data/push/user_segment"))


def test_out_of_order_and_duplicate_pushes_never_go_back(stack: Stack) -> None:
    newer, older = recent(5), recent(60)
    assert stack.push([row(7, newer, "newer", 2)]).json()["online"]["applied"] == 1
    late = stack.push([row(7, older, "older", 1)])
    assert late.status_code == 200 and late.json()["online"] == {"applied": 0, "kept_newer": 1}
    assert stack.push([row(7, newer, "newer", 2)]).json()["online"]["applied"] == 1  # a duplicate: same values
    # In one batch, in any order: the newest wins; at one event time, the later row of the batch.
    batch = [row(8, older, "b-old"), row(8, newer, "b-new"), row(8, recent(30), "b-mid"), row(9, newer, "first"),
             row(9, newer, "second")]
    assert stack.push(batch).json()["online"] == {"applied": 4, "kept_newer": 1}
    features = {i: stack.features(i)["features"]["last_genre"] for i in (7, 8, 9)}
    assert features == {7: "newer", 8: "b-new", 9: "second"}
    kept = logged_rows(stack.log)
    assert sorted(r["last_genre"] for r in kept if r["user_id"] == 7) == ["newer", "newer", "older"]  # late kept


def test_the_api_key_guards_pushes(project, redis_url: str) -> None:
    synced(project, redis_url)
    with api_process(redis_url, API_KEY="s3cret") as (_, url):
        stack = Stack(project, redis_url, url)
        before = redis_snapshot(redis_url)
        assert stack.push([row(1, recent(5), "x")]).status_code == 401
        assert httpx.post(f"{url}/push", json={}, timeout=10).status_code == 401
        assert redis_snapshot(redis_url) == before and not logged_rows(stack.log)
        stack.key = "s3cret"
        assert stack.push([row(1, recent(5), "x")]).status_code == 200


def test_redis_restarted_without_the_script(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.redis_url)
    client.script_flush()
    client.close()
    assert stack.push([row(1, recent(5), "after-flush")]).json()["online"]["applied"] == 1
    assert stack.features(1)["features"]["last_genre"] == "after-flush"


def test_the_example_producer_pushes_rows_that_are_served_at_once(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "examples/push_producer.py", "--url", stack.api, "--watches", "6", "--batch", "2",
         "--rate", "0", "--users", "50", "--seed", "1"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    for line in lines:  # "user U watched title T (GENRE); served now: GENRE"
        watched, served = line.split("; served now: ")
        assert watched.endswith(f"({served})"), line
    assert len(logged_rows(stack.log)) == 6
