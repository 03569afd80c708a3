"""The project's own redis-server: started on demand, shared, persistent, stopped cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from feature_store.errors import FeatureStoreError
from feature_store.online.embedded import server as embedded_redis

REPO = Path(__file__).resolve().parents[2]


def redis_cli(project: Path, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", "redis", action, "--project-dir", str(project)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_start_is_idempotent_persists_and_stops(tmp_path: Path) -> None:
    started = redis_cli(tmp_path, "start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    try:
        assert url.startswith("redis://127.0.0.1:")
        client = redis.Redis.from_url(url, decode_responses=True)
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("bind")["bind"].startswith("127.0.0.1")
        client.set("kept", "yes")
        assert redis_cli(tmp_path, "start").stdout.strip() == url  # already running: same server
        assert redis_cli(tmp_path, "status").returncode == 0
        assert redis_cli(tmp_path, "stop").stdout.strip() == "stopped"
        assert redis_cli(tmp_path, "status").returncode == 1
        restarted = redis_cli(tmp_path, "start").stdout.strip()
        assert redis.Redis.from_url(restarted).get("kept") == b"yes"  # data lives under the project
        assert (tmp_path / ".redis").is_dir()
    finally:
        redis_cli(tmp_path, "stop")
    assert redis_cli(tmp_path, "stop").stdout.strip() == "not running"


def test_missing_binary_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(embedded_redis.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FeatureStoreError, match="apt-get install redis-server") as caught:
        embedded_redis.find_redis_server()
    assert "REDIS_URL" in str(caught.value)


def test_a_server_that_cannot_start_reports_why(tmp_path: Path) -> None:
    with pytest.raises(FeatureStoreError, match="redis-server exited at start"):
        embedded_redis.EmbeddedRedis(tmp_path, extra_args=("--no-such-option", "1")).start()
