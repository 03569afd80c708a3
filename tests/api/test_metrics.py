"""GET /metrics (Prometheus text), the structured access log, and what each counts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.core import metrics
from api.core.config import Settings
from tests.api.conftest import Client, ClientFactory, serve
from tests.api.online import DEMO, MICROSECOND, NOW, USER_PROFILE, USER_WATCH_STATS, OnlineWriter, ttl_of

pytestmark = pytest.mark.anyio

TTL = ttl_of(USER_WATCH_STATS)
assert TTL is not None
SINGLE = "/features/{entity}/{id}"


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def fresh_served_record() -> Iterator[None]:
    metrics.forget_served()
    yield
    metrics.forget_served()


async def test_requests_are_counted_per_endpoint_method_and_status(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW)
    before = await scrape(client)

    for _ in range(3):
        await client.get("/features/user/1")
    await client.get("/features/user/2")
    await client.get("/features/user/x:y")
    await client.post("/features/user", json={"ids": [1, 2]})
    await client.get("/context/user/1")
    await client.get("/no/such/path/at/all")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "feature_api_requests_total"
    assert delta(requests, endpoint=SINGLE, method="GET", status="200") == 3
    assert delta(requests, endpoint=SINGLE, method="GET", status="404") == 1
    assert delta(requests, endpoint=SINGLE, method="GET", status="422") == 1
    assert delta(requests, endpoint="/features/{entity}", method="POST", status="200") == 1
    assert delta(requests, endpoint="/context/{entity}/{id}", method="GET", status="200") == 1
    assert delta(requests, endpoint="unmatched", method="GET", status="404") == 1
    assert delta("feature_api_request_duration_seconds_count", endpoint=SINGLE) == 5
    assert delta("feature_api_request_duration_seconds_bucket", endpoint=SINGLE, le="+Inf") == 5
    assert delta("feature_api_request_duration_seconds_sum", endpoint=SINGLE) > 0
    assert delta("feature_api_entities_not_found_total", entity="user") == 2  # the 404 and the batch's id 2


async def test_view_ages_are_judged_at_the_read_clock(online: OnlineWriter, client: Client) -> None:
    online.publish(last_sync_at={"user_profile": NOW - timedelta(hours=3), "user_watch_stats": NOW})
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW - timedelta(hours=2))
    online.write("user", 2, USER_WATCH_STATS, {"watch_count_30d": 5}, NOW - timedelta(hours=5))
    online.write("user", 3, USER_PROFILE, {"country": "NL"}, NOW - TTL - MICROSECOND)  # no ttl: served

    await client.post("/features/user", json={"ids": [2, 1, 3]})
    samples = await scrape(client)

    assert value(samples, "feature_api_view_last_sync_age_seconds", view="user_profile") == 3 * 3600
    assert value(samples, "feature_api_view_last_sync_age_seconds", view="user_watch_stats") == 0
    assert ("feature_api_view_last_sync_age_seconds", (("view", "title_stats"),)) not in samples  # never synced
    assert value(samples, "feature_api_view_newest_served_age_seconds", view="user_watch_stats") == 2 * 3600
    profile_age = value(samples, "feature_api_view_newest_served_age_seconds", view="user_profile")
    assert profile_age == pytest.approx((TTL + MICROSECOND).total_seconds(), abs=1e-5)  # float seconds


async def test_an_expired_row_is_not_a_served_value(online: OnlineWriter, client: Client) -> None:
    online.publish()
    online.write("user", 1, USER_WATCH_STATS, {"watch_count_30d": 4}, NOW - TTL - MICROSECOND)

    await client.get("/features/user/1")
    samples = await scrape(client)

    assert ("feature_api_view_newest_served_age_seconds", (("view", "user_watch_stats"),)) not in samples


async def test_redis_errors_are_counted_and_metrics_answer_without_redis() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:9/0", redis_timeout_seconds=0.2)
    async with serve(settings) as client:
        before = await scrape(client)
        failed = await client.get("/features/user/1")
        after = await scrape(client)

    assert failed.status_code == 503
    errors = "feature_api_redis_errors_total"
    assert value(after, errors, kind="connection") > value(before, errors, kind="connection")
    assert not any(name == "feature_api_view_last_sync_age_seconds" for name, _ in after)


async def test_the_access_log_is_one_json_line_per_request(
    online: OnlineWriter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    online.publish(DEMO)
    caplog.set_level(logging.INFO, logger="api.access")

    async with make_client(access_log=True) as client:
        response = await client.get("/features/user/77", headers={"x-request-id": "req-1"})
    async with make_client() as quiet:
        await quiet.get("/features/user/77")

    lines = [record.getMessage() for record in caplog.records if record.name == "api.access"]
    assert len(lines) == 1
    line = orjson.loads(lines[0])
    assert line["request_id"] == response.headers["x-request-id"] == "req-1"
    assert (line["method"], line["path"], line["endpoint"], line["status"]) == ("GET", "/features/user/77", SINGLE, 404)
    assert line["duration_ms"] > 0
    assert line["time"].endswith("Z")


async def test_a_5xx_log_line_names_the_request(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="api")
    async with make_client() as client:  # no registry published: 503
        response = await client.get("/features/user/1", headers={"x-request-id": "trace-me"})

    assert response.status_code == 503
    assert any("trace-me" in record.getMessage() for record in caplog.records if record.name == "api")
