"""End to end: `python -m sync` adds a feature and a context template, and a running `python -m api`
serves both at once, with no restart. The project is written here: Parquet history and a dbt manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest

from feature_store.registry.manifest import SUPPORTED_MANIFEST
from tests.api.test_server import PROJECT_DIR, start_api, stop_api

AS_OF = "2026-11-27T12:00:00Z"
ENTITY = {"join_key": "user_id", "dtype": "int64", "description": "A subscriber."}
FEATURES = {"watch_count_30d": "bigint", "minutes_30d": "bigint"}  # name -> contract data_type


def write_project(project: Path, features: list[str], template: str | None) -> None:
    """One view, `user_stats`, with `features`: users 1-3, two history rows each, the latest at 11:00."""
    (project / "data" / "features").mkdir(parents=True, exist_ok=True)
    (project / "target").mkdir(parents=True, exist_ok=True)
    columns = "".join(f", (user_id * 10 + version)::bigint as {name}" for name in features)
    duckdb.sql(f"""
        copy (
            select user_id, timestamp '2026-11-27 09:00:00' + version * interval 2 hour as event_timestamp {columns}
            from range(1, 4) users(user_id), range(0, 2) versions(version)
        ) to '{project / "data" / "features" / "user_stats.parquet"}' (format parquet)
    """)
    entity = {**ENTITY, **({"context_template": template} if template else {})}
    meta = {"entities": {"user": entity}, "entity": "user", "timestamp": "event_timestamp",
            "freshness": "1h", "ttl": "30d", "owner": "growth"}
    node_columns = {
        name: {"name": name, "description": f"About {name}.", "data_type": FEATURES[name],
               "config": {"meta": {}}, "meta": {}}
        for name in features
    }
    node = {
        "resource_type": "model", "name": "user_stats", "description": "Viewing per subscriber.", "tags": [],
        "checksum": {"name": "sha256", "checksum": "-".join(features)},
        "config": {"meta": meta, "location": "data/features/user_stats.parquet"}, "meta": meta,
        "columns": node_columns,
    }
    manifest = {"metadata": {"dbt_schema_version": SUPPORTED_MANIFEST, "project_name": "refresh"},
                "nodes": {"model.refresh.user_stats": node}}
    (project / "target" / "manifest.json").write_text(json.dumps(manifest))


def sync(project: Path, redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--project-dir", str(project), "--force", "--as-of", AS_OF],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "REDIS_URL": redis_url, "FEATURE_STORE_STATE_DIR": str(project / "state")},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_a_sync_that_adds_a_feature_is_served_without_a_restart(tmp_path: Path, redis_url: str) -> None:
    project = tmp_path / "project"
    write_project(project, ["watch_count_30d"], None)
    sync(project, redis_url)
    process, base_url = start_api(redis_url, "--as-of", AS_OF)
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            before = client.get("/features/user/2", params={"features": "minutes_30d"})
            context_before = client.get("/context/user/2").json()["context"]

            write_project(project, ["watch_count_30d", "minutes_30d"],
                          "User context: watched {watch_count_30d} titles, {minutes_30d} minutes.")
            sync(project, redis_url)

            after = client.get("/features/user/2", params={"features": "minutes_30d"})
            context_after = client.get("/context/user/2").json()["context"]
            feast = client.post("/get-online-features", json={
                "features": ["user_stats:minutes_30d"], "entities": {"user_id": [2]},
            })
            registry = client.get("/registry").json()
    finally:
        stop_api(process)

    assert (before.status_code, before.json()["error"]) == (400, "unknown_feature")
    assert context_before == "User context: watch_count_30d=21."
    assert after.status_code == 200, after.text
    assert after.json()["features"] == {"minutes_30d": 21}
    assert after.json()["views"]["user_stats"] == {"event_timestamp": "2026-11-27T11:00:00Z", "status": "fresh"}
    assert context_after == "User context: watched 21 titles, 21 minutes."
    assert feast.json()["results"][1]["values"] == [21]
    assert [f["name"] for f in registry["views"]["user_stats"]["features"]] == ["watch_count_30d", "minutes_30d"]
    assert registry["entities"]["user"]["context_template"].startswith("User context: watched")
