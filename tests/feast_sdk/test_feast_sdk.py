"""Feast's own Python SDK, unchanged, reads our API as its `remote` online store, and gets what it gets from
Feast's own Redis online store on the same rows.

Opt-in (Feast is a large install with pins of its own): `make test-feast` creates .feast-venv with
requirements-feast.txt and runs this module with FEATURE_STORE_FEAST_TESTS=1. The SDK runs in that
virtualenv (tests/feast_sdk/feast_client.py); our API is `python -m api` over real HTTP; both stores live in
the test's redis-server (Feast's in database 1).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feature_store.registry.model import Entity, Registry
from tests.api.online import OnlineWriter, view
from tests.api.test_server import PROJECT_DIR, start_api, stop_api

ENABLED = bool(os.environ.get("FEATURE_STORE_FEAST_TESTS"))
FEAST_PYTHON = PROJECT_DIR / ".feast-venv" / "bin" / "python"
pytestmark = [
    pytest.mark.feast,
    pytest.mark.skipif(not ENABLED, reason="the Feast SDK test is opt-in: run `make test-feast`"),
]

NOW = datetime.now(UTC).replace(microsecond=0)  # Feast judges ttl by the wall clock, so the data is recent
USER = Entity("user", ("user_id",), "int64", "A subscriber.")
STATS = view("user_watch_stats", "user", {"watch_count_30d": "int64", "avg_minutes_30d": "float64"},
             freshness=timedelta(days=1), ttl=timedelta(days=30))
PROFILE = view("user_profile", "user", {"country": "string"}, freshness=timedelta(days=1),
               ttl=timedelta(days=365))
REGISTRY = Registry(entities=(USER,), views=(STATS, PROFILE), project="feast_parity")

# user 1: both views fresh; 2: no profile row; 3: a null value; 4: an expired stats row.
ROWS: dict[str, list[dict[str, Any]]] = {
    "user_watch_stats": [
        {"user_id": 1, "watch_count_30d": 12, "avg_minutes_30d": 40.5, "event_timestamp": NOW - timedelta(hours=2)},
        {"user_id": 2, "watch_count_30d": 3, "avg_minutes_30d": 12.0, "event_timestamp": NOW - timedelta(hours=1)},
        {"user_id": 3, "watch_count_30d": 7, "avg_minutes_30d": None, "event_timestamp": NOW - timedelta(hours=1)},
        {"user_id": 4, "watch_count_30d": 9, "avg_minutes_30d": 30.0, "event_timestamp": NOW - timedelta(days=40)},
    ],
    "user_profile": [
        {"user_id": 1, "country": "NL", "event_timestamp": NOW - timedelta(days=1)},
        {"user_id": 3, "country": "DE", "event_timestamp": NOW - timedelta(days=1)},
        {"user_id": 4, "country": "FR", "event_timestamp": NOW - timedelta(days=1)},
    ],
}
ALL = ["user_watch_stats:watch_count_30d", "user_watch_stats:avg_minutes_30d", "user_profile:country"]
READS = {
    "single entity": {"features": ALL, "ids": [1]},
    "many entities": {"features": ALL, "ids": [1, 2, 3]},
    "full feature names": {"features": ALL, "ids": [1, 2], "full_feature_names": True},
    "unknown entity": {"features": ALL, "ids": [999, 1]},
    "a subset, reordered": {"features": ["user_profile:country", "user_watch_stats:watch_count_30d"], "ids": [2, 1]},
    "expired row": {"features": ALL, "ids": [4]},
}


@pytest.fixture
def answers(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not FEAST_PYTHON.exists():
        pytest.fail(f"no Feast SDK at {FEAST_PYTHON}: run `make test-feast`, which creates it")
    writer = OnlineWriter(redis_url)
    writer.publish(REGISTRY, last_sync_at=NOW)
    by_view = {"user_watch_stats": STATS, "user_profile": PROFILE}
    for name, rows in ROWS.items():
        for row in rows:
            values = {k: v for k, v in row.items() if k not in ("user_id", "event_timestamp")}
            writer.write("user", row["user_id"], by_view[name], values, row["event_timestamp"])
    writer.close()
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    spec = {
        "repo": str(tmp_path / "feast"), "project": "feast_parity", "feast_redis": f"{host_port},db=1",
        "views": [
            {"name": v.name, "ttl_seconds": int(v.ttl.total_seconds()) if v.ttl else 0,
             "features": {f.name: f.dtype for f in v.features}}
            for v in (STATS, PROFILE)
        ],
        "rows": {name: [{**row, "event_timestamp": row["event_timestamp"].isoformat()} for row in rows]
                 for name, rows in ROWS.items()},
        "reads": list(READS.values()),
    }
    process, base_url = start_api(redis_url)
    try:
        spec["api_url"] = base_url
        result = subprocess.run([str(FEAST_PYTHON), str(PROJECT_DIR / "tests" / "feast_sdk" / "feast_client.py")],
                                input=json.dumps(spec), capture_output=True, text=True, timeout=300)
    finally:
        stop_api(process)
    assert result.returncode == 0, result.stderr[-3000:]
    yield dict(zip(READS, json.loads(result.stdout), strict=True))


PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = 1, 2, 3, 4  # Feast's FieldStatus numbers


def columns(answer: dict[str, Any]) -> dict[str, tuple[list[Any], list[int]]]:
    """Each column's values and statuses by name: Feast's Redis store orders the columns by view its own
    way, and `to_dict()` is keyed by name, so the order is no part of the answer."""
    assert "error" not in answer, answer["error"]
    return {name: (answer["values"][name], statuses)
            for name, statuses in zip(answer["names"], answer["statuses"], strict=True)}


def test_the_sdk_reads_the_same_values_from_our_api_as_from_feasts_own_store(answers: dict[str, Any]) -> None:
    for read, answer in answers.items():
        if read == "expired row":
            continue
        ours, feasts = columns(answer["our_api"]), columns(answer["feast_redis"])
        assert {name: values for name, (values, _) in ours.items()} == \
            {name: values for name, (values, _) in feasts.items()}, read


def test_the_statuses_say_what_feasts_own_store_leaves_out(answers: dict[str, Any]) -> None:
    """Where a value is there, both say PRESENT. The SDK reading Feast's Redis store reports PRESENT for every
    value, even an unknown entity's; our API gives Feast's own words for the rest (NULL_VALUE, NOT_FOUND,
    OUTSIDE_MAX_AGE), which the SDK passes on unchanged."""
    for read, answer in answers.items():
        ours, feasts = columns(answer["our_api"]), columns(answer["feast_redis"])
        for name, (values, statuses) in feasts.items():
            assert set(statuses) == {PRESENT}, (read, name)
            assert [s for v, s in zip(values, ours[name][1], strict=True) if v is not None and s != PRESENT] == [] \
                or read == "expired row", (read, name)
    many = columns(answers["many entities"]["our_api"])
    assert many["avg_minutes_30d"] == ([40.5, 12.0, None], [PRESENT, PRESENT, NULL_VALUE])
    assert many["country"] == (["NL", None, "DE"], [PRESENT, NOT_FOUND, PRESENT])
    unknown = columns(answers["unknown entity"]["our_api"])
    assert unknown["watch_count_30d"] == ([None, 12], [NOT_FOUND, PRESENT])


def test_full_feature_names(answers: dict[str, Any]) -> None:
    for store in ("our_api", "feast_redis"):
        assert set(columns(answers["full feature names"][store])) == {
            "user_id", "user_watch_stats__watch_count_30d", "user_watch_stats__avg_minutes_30d",
            "user_profile__country"}, store


def test_an_expired_row(answers: dict[str, Any]) -> None:
    """Feast's Redis store does not judge ttl at read time (its Redis key expiry, counted from the write,
    would drop the row): it serves the 40-day-old values. Our API serves them as null with OUTSIDE_MAX_AGE."""
    ours = columns(answers["expired row"]["our_api"])
    feasts = columns(answers["expired row"]["feast_redis"])
    assert feasts["watch_count_30d"] == ([9], [PRESENT])
    assert ours["watch_count_30d"] == ([None], [OUTSIDE_MAX_AGE])
    assert ours["avg_minutes_30d"] == ([None], [OUTSIDE_MAX_AGE])
    assert ours["country"] == feasts["country"] == (["FR"], [PRESENT])
