"""The same project on Spark: `dbt build --target spark` (a local Spark session) builds feature views and
a training set equal to the DuckDB build's, and the sync serves the same values from it.

Opt-in (a Spark build takes minutes and pyspark is a large download): `make test-spark`, which installs
requirements-spark.txt and runs this module with FEATURE_STORE_SPARK_TESTS=1. Java 17 must be on PATH.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pyarrow.dataset as ds
import pytest
import redis

from feature_store.registry.manifest import load_registry
from feature_store.registry.model import Registry
from tests.conftest import DEMO_NOW, PROJECT_DIR, BuiltProject, copy_project, demo_vars, run_dbt

ENABLED = os.environ.get("FEATURE_STORE_SPARK_TESTS") == "1"
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not ENABLED, reason="the Spark target's test is opt-in: run `make test-spark`"),
]

VIEWS = ("user_last_genre", "user_segment", "user_watch_stats")
# As `make build-spark` does: the Spark build's manifest and test record apart from the DuckDB build's.
TARGET_PATH = Path("target") / "spark"
TRAINING = ("recommender_spine", "recommender_training_set")
KEY = ("user_id", "event_timestamp")


def rows(location: Path) -> list[dict[str, Any]]:
    """A Parquet file's or a Spark table folder's rows, sorted by key, timestamps as naive UTC.

    DuckDB writes naive timestamps and Spark UTC-adjusted ones: the same instants.
    """
    table = ds.dataset(location, format="parquet").to_table()
    result = [
        {name: value.replace(tzinfo=None) if isinstance(value, datetime) else value for name, value in row.items()}
        for row in table.to_pylist()
    ]
    return sorted(result, key=lambda row: tuple(row[key] for key in KEY))


@pytest.fixture(scope="module")
def spark_project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """A copy of the project after a real `dbt build --target spark`."""
    missing = [name for name in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(name) is None]
    assert not missing, f"{', '.join(missing)} not installed: pip install -r requirements-spark.txt"
    assert shutil.which("java"), "no java on PATH: Spark needs Java 17 (Debian: openjdk-17-jre-headless)"
    project = copy_project(tmp_path_factory.mktemp("spark") / "project")
    run_dbt(project, "build", "--target", "spark", "--target-path", str(TARGET_PATH), "--vars", demo_vars(DEMO_NOW))
    return BuiltProject(project, DEMO_NOW)


def spark_manifest(project: BuiltProject) -> Path:
    return project.path / TARGET_PATH / "manifest.json"


def test_the_manifest_records_where_spark_wrote_each_view(spark_project: BuiltProject) -> None:
    registry = load_registry(spark_project.path, spark_manifest(spark_project))
    assert [view.name for view in registry.views] == list(VIEWS)
    for view in registry.views:
        folder = Path(view.location)
        assert folder == spark_project.path / "data" / "spark" / "features" / view.name
        assert folder.is_dir() and list(folder.glob("part-*.parquet")), view.name
    assert not (spark_project.path / "data" / "features" / "user_segment.parquet").exists()
    assert not (spark_project.path / "target" / "manifest.json").exists()


def test_the_registry_is_the_duckdb_builds(spark_project: BuiltProject, built_project: BuiltProject) -> None:
    def definitions(registry: Registry) -> dict[str, Any]:
        data = registry.to_dict()
        for view in data["views"].values():
            del view["location"]
            # Paths inside each project copy, like the location; a training set reference is a folder on Spark.
            view.pop("push_log", None)
            view.get("monitor", {}).pop("reference_location", None)
        return data

    spark = load_registry(spark_project.path, spark_manifest(spark_project))
    assert definitions(spark) == definitions(load_registry(built_project.path))


@pytest.mark.parametrize("view", VIEWS)
def test_each_feature_view_has_the_duckdb_builds_history(spark_project, built_project, view) -> None:
    spark = rows(spark_project.path / "data" / "spark" / "features" / view)
    assert spark and spark == rows(built_project.parquet(view))


@pytest.mark.parametrize("model", TRAINING)
def test_the_training_set_is_the_duckdb_builds(spark_project, built_project, model) -> None:
    # recommender_training_set is the portable point-in-time join on Spark, the ASOF join on DuckDB.
    compiled = spark_project.path / TARGET_PATH / "compiled" / "feature_store" / "models" / "training"
    assert "asof" not in (compiled / "recommender_training_set.sql").read_text().lower()
    spark = rows(spark_project.path / "data" / "spark" / "training" / model)
    assert len(spark) > 10_000
    assert spark == rows(built_project.path / "data" / "training" / f"{model}.parquet")


def sync_cli(
    project: BuiltProject, manifest: Path, url: str, state: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": url, "FEATURE_STORE_STATE_DIR": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "sync", *args, "--project-dir", str(project.path), "--manifest", str(manifest),
         "--as-of", project.demo_now.isoformat()],
        env=env, capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR,
    )


def entities(url: str) -> dict[str, dict[str, str]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        # redis-py's types do not follow decode_responses: these are str.
        return {key: cast(dict[str, str], client.hgetall(key)) for key in client.scan_iter("user:*", count=1000)}
    finally:
        client.close()


def test_the_sync_serves_the_duckdb_builds_values(spark_project, built_project, redis_url, tmp_path) -> None:
    manifest = spark_manifest(spark_project)
    synced = sync_cli(spark_project, manifest, redis_url, tmp_path / "spark-state")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    verify = sync_cli(spark_project, manifest, redis_url, tmp_path / "spark-state", "verify")
    assert verify.returncode == 0 and verify.stdout.count(": ok") == len(VIEWS), verify.stdout + verify.stderr
    from_spark = entities(redis_url)
    assert len(from_spark) == 3_000

    redis.Redis.from_url(redis_url).flushall()
    synced = sync_cli(built_project, built_project.manifest, redis_url, tmp_path / "duckdb-state")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert from_spark == entities(redis_url)
