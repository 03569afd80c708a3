"""Every response shape (single, batch, context, Feast-shaped) reports the same per-view status,
judged with the point-in-time join's rule at the read time, around each boundary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import ClientFactory
from tests.api.online import CONTEXT_DEMO, MICROSECOND, NOW, USER_WATCH_STATS, OnlineWriter, ttl_of

pytestmark = pytest.mark.anyio

TTL = ttl_of(USER_WATCH_STATS)
FRESHNESS = USER_WATCH_STATS.freshness
assert TTL is not None
FEAST_STATUS = {"fresh": "PRESENT", "stale": "PRESENT", "expired": "OUTSIDE_MAX_AGE", "missing": "NOT_FOUND"}
SYNCED = NOW - timedelta(minutes=10)

# (event time of the row or None for no row, read time, expected status)
CASES = {
    "ttl-edge": (SYNCED - TTL, SYNCED, "fresh"),
    "ttl-edge-plus-1us": (SYNCED - TTL, SYNCED + MICROSECOND, "expired"),
    "freshness-edge": (SYNCED, SYNCED + FRESHNESS, "fresh"),
    "freshness-edge-plus-1us": (SYNCED, SYNCED + FRESHNESS + MICROSECOND, "stale"),
    "stale-and-expired": (SYNCED - TTL, SYNCED + FRESHNESS + MICROSECOND, "expired"),
    "no-row": (None, SYNCED, "missing"),
}


@pytest.mark.parametrize("case", CASES)
async def test_every_shape_reports_the_same_status(
    online: OnlineWriter, make_client: ClientFactory, case: str
) -> None:
    event_ts, read_at, expected = CASES[case]
    online.publish(CONTEXT_DEMO, last_sync_at=SYNCED)
    online.write("user", 1, USER_WATCH_STATS if event_ts else CONTEXT_DEMO.view("user_profile"),
                 {"watch_count_30d": 5} if event_ts else {"country": "NL"}, event_ts or SYNCED)

    async with make_client(as_of=read_at) as client:
        single = (await client.get("/features/user/1")).json()
        batch = (await client.post("/features/user", json={"ids": [1]})).json()["results"][0]
        context = (await client.get("/context/user/1")).json()
        feast_request = {"features": ["user_watch_stats:watch_count_30d"], "entities": {"user_id": [1]}}
        feast = (await client.post("/get-online-features", json=feast_request)).json()

    for shape in (single, batch, context):
        assert shape["views"]["user_watch_stats"]["status"] == expected, shape
    assert feast["views"]["user_watch_stats"]["statuses"] == [expected]
    assert feast["results"][1]["statuses"] == [FEAST_STATUS[expected]]
    served = expected in ("fresh", "stale")
    assert (single["features"]["watch_count_30d"] == 5) is served
    assert (feast["results"][1]["values"] == [5]) is served
    assert ("watched 5 titles" in context["context"]) is (expected == "fresh")
    assert ("watched 5 (as of 1 h ago) titles" in context["context"]) is (expected == "stale")  # its age, said
    assert ("watched unknown titles" in context["context"]) is not served
    assert context["values"]["watch_count_30d"]["status"] == expected

