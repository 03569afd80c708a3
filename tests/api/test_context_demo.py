"""The demo's context template, as dbt_project.yml declares it, after a real dbt build and sync."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from api.core.config import Settings
from tests.api.conftest import serve
from tests.api.test_server import PROJECT_DIR
from tests.conftest import BuiltProject

pytestmark = pytest.mark.anyio


@pytest.mark.slow
async def test_the_demo_renders_its_declared_context(built_project: BuiltProject, redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--project-dir", str(built_project.path),
         "--as-of", built_project.demo_now.isoformat()],
        env={**os.environ, "REDIS_URL": redis_url}, capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    read_at = (built_project.demo_now + timedelta(minutes=1)).isoformat()

    async with serve(Settings(redis_url=redis_url, as_of=read_at)) as client:
        registry = (await client.get("/registry")).json()
        batch = (await client.post("/context/user", json={"ids": list(range(1, 201))})).json()["results"]

    assert registry["entities"]["user"]["context_template"].startswith("User context: segment={user_segment}")
    found = [result for result in batch if result["found"]]
    assert found
    for result in found:
        features = result["features"]
        assert result["context"].startswith(f"User context: segment={features['user_segment'] or 'unknown'}, ")
        assert "None" not in result["context"]
        expected_genre = features["last_genre"] or "unknown"
        assert result["context"].endswith(f"last genre watched: {expected_genre}.")
    assert any(r["views"]["user_last_genre"]["status"] in ("expired", "missing") for r in found)
    assert any("last genre watched: unknown." in r["context"] for r in found)
