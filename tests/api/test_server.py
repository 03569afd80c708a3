"""`python -m api` over a real socket: uvicorn, the lifespan, and the CLI's options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from feature_store.online.embedded.server import free_port
from tests.api.online import NOW, TITLE_STATS, USER_WATCH_STATS, OnlineWriter

PROJECT_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 20.0


def start_api(redis_url: str, *args: str, **env_vars: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, **env_vars}
    env.pop("FEATURE_STORE_AS_OF", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port), *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None  # stdout=PIPE
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"python -m api exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=0.5).status_code == 200 and _workers_up(process, args):
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    stop_api(process)
    raise AssertionError(f"python -m api did not answer within {START_TIMEOUT_SECONDS:.0f}s")


def _workers_up(process: subprocess.Popen[str], args: tuple[str, ...]) -> bool:
    """Every worker has started (one answering /health does not mean all do)."""
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    if workers == 1:
        return True
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return children.exists() and len(children.read_text().split()) >= workers


def stop_api(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.fixture
def published(redis_url: str) -> Iterator[str]:
    writer = OnlineWriter(redis_url)
    writer.publish()
    writer.write("user", 42, USER_WATCH_STATS, {"watch_count_30d": 12, "avg_minutes_30d": 3.5}, NOW)
    writer.write("title", "tt1", TITLE_STATS, {"view_count_7d": 7}, NOW)
    writer.close()
    yield redis_url


def test_served_over_a_real_socket(published: str) -> None:
    process, base_url = start_api(published, "--as-of", "2026-11-27T12:00:00Z")
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            single = client.get("/features/user/42")
            batch = client.post("/features/user", json={"ids": [42, 43], "features": ["watch_count_30d"]})
            missing = client.get("/features/user/43")
            malformed = client.get("/features/user/4%3A2")
            ready = client.get("/ready")
            docs = client.get("/docs")
    finally:
        output = stop_api(process)

    assert single.status_code == 200, single.text
    features = single.json()["features"]
    assert (features["watch_count_30d"], features["avg_minutes_30d"], features["country"]) == (12, 3.5, None)
    assert single.json()["views"]["user_watch_stats"]["status"] == "fresh"  # the pinned clock
    assert [(r["id"], r["found"]) for r in batch.json()["results"]] == [(42, True), (43, False)]
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (malformed.status_code, malformed.json()["error"]) == (422, "invalid_id")
    assert ready.status_code == 200
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # uvicorn re-raises SIGTERM after its graceful shutdown, which closed the Redis pool
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output


def test_several_workers_share_the_port(published: str) -> None:
    process, base_url = start_api(published, "--workers", "2", "--as-of", "2026-11-27T12:00:00Z")
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            answers = [client.get("/features/title/tt1") for _ in range(20)]
    finally:
        stop_api(process)

    assert {answer.status_code for answer in answers} == {200}
    assert answers[0].json()["features"]["view_count_7d"] == 7


def test_a_bad_clock_is_refused_before_serving(redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api", "--as-of", "yesterday"],
        cwd=PROJECT_DIR,
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "invalid timestamp 'yesterday'" in result.stderr


def test_metrics_are_summed_over_workers_and_their_folder_removed_on_exit(published: str) -> None:
    """Prometheus multiprocess mode: every worker's requests appear in one scrape, whichever worker answers."""
    before = set(Path(tempfile.gettempdir()).glob("feature-api-metrics-*"))
    process, base_url = start_api(published, "--workers", "2", "--as-of", "2026-11-27T12:00:00Z")
    sent = 0
    try:
        (folder,) = set(Path(tempfile.gettempdir()).glob("feature-api-metrics-*")) - before
        # A new connection per request, until both workers have answered some (the kernel picks one per accept).
        while sent < 400 and (sent < 20 or len(_writers(folder)) < 2):
            assert httpx.get(f"{base_url}/features/user/42", headers={"connection": "close"}).status_code == 200
            sent += 1
        writers = _writers(folder)
        scrapes = [httpx.get(f"{base_url}/metrics", headers={"connection": "close"}).text for _ in range(6)]
    finally:
        stop_api(process)

    assert len(writers) == 2
    line = f'feature_api_requests_total{{endpoint="/features/{{entity}}/{{id}}",method="GET",status="200"}} {sent}.0'
    assert all(line in text for text in scrapes), scrapes[0]
    assert not folder.exists()


def _writers(folder: Path) -> set[str]:
    """The pids that wrote counters into a multiprocess folder (files `counter_<pid>.db`)."""
    return {path.stem.split("_")[-1] for path in folder.glob("counter_*.db")}


def test_api_key_and_access_log_over_a_real_socket(published: str) -> None:
    process, base_url = start_api(published, "--access-log", "--as-of", "2026-11-27T12:00:00Z", API_KEY="k-123")
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            refused = client.get("/features/user/42")
            served = client.get("/features/user/42", headers={"Authorization": "Bearer k-123"})
            health = client.get("/health")
    finally:
        output = stop_api(process)

    assert (refused.status_code, served.status_code, health.status_code) == (401, 200, 200)
    access = [orjson.loads(line) for line in output.splitlines() if line.startswith('{"time"')][-3:]  # after start
    assert [(line["path"], line["status"]) for line in access] == [
        ("/features/user/42", 401), ("/features/user/42", 200), ("/health", 200)
    ]
    assert access[1]["request_id"] == served.headers["x-request-id"]
    assert "k-123" not in output
