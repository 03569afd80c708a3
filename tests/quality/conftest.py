"""Quality-gate fixtures: copies of the built project with damaged data or definitions, tested by dbt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import PROJECT_DIR, BuiltProject, demo_vars, run_dbt

FEATURE_VIEWS = ("user_last_genre", "user_segment", "user_watch_stats")
CONTRACT_TESTS = ("feature_unique_rows", "feature_keys_not_null", "feature_dtypes", "feature_freshness")


@dataclass(frozen=True)
class DbtOutcome:
    """A project copy and the outcome of one dbt command on it (kept: later commands rewrite the file)."""

    project: BuiltProject
    run_results: dict[str, Any]
    output: str

    @property
    def path(self) -> Path:
        return self.project.path

    def result(self, name: str) -> dict[str, Any]:
        """The result of the node named `name` (a test's name, e.g. feature_dtypes_user_segment_)."""
        matches = [r for r in self.run_results["results"] if r["unique_id"].split(".")[2] == name]
        names = [r["unique_id"] for r in self.run_results["results"]]
        assert len(matches) == 1, f"{name}: {len(matches)} results among {names}"
        return matches[0]

    def status(self, name: str) -> str:
        return self.result(name)["status"]


def copy_built(built: BuiltProject, destination: Path) -> BuiltProject:
    """The built project with its DuckDB database, so `dbt test` finds every relation."""
    shutil.copytree(built.path, destination)
    return BuiltProject(destination, built.demo_now)


def rewrite_parquet(path: Path, *statements: str) -> None:
    """Run SQL on the Parquet file's rows as table `t`, then write them back (same column types)."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"create table t as select * from read_parquet('{path}')")
    for statement in statements:
        connection.execute(statement)
    connection.execute(f"copy t to '{path}' (format parquet)")
    connection.close()


def dbt_outcome(project: BuiltProject, *args: str) -> DbtOutcome:
    result = run_dbt(project.path, *args, "--vars", demo_vars(project.demo_now), check=False)
    run_results = json.loads((project.path / "target" / "run_results.json").read_text())
    return DbtOutcome(project, run_results, result.stdout + result.stderr)


def recorded(project: BuiltProject) -> dict[str, dict[str, Any]]:
    """target/feature_test_results.jsonl by view."""
    lines = (project.path / "target" / "feature_test_results.jsonl").read_text().splitlines()
    return {record["view"]: record for record in map(json.loads, filter(None, lines))}


@pytest.fixture(scope="session")
def damaged_data(built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> DbtOutcome:
    """The built project with bad data, after `dbt test` of the feature views (data tests only: the unit
    tests keep the results the build recorded):

    - user_segment: its rows of the last 3 days deleted (stale), and one row duplicated;
    - user_watch_stats: one row's entity key set to null;
    - user_last_genre: untouched.

    A wrong dtype cannot be written into the Parquet file behind dbt's back: DuckDB binds a view's column
    types when the view is created, so every test of that view would error. It comes from a model instead
    (tests/quality/test_contract_tests.py, broken_definitions).
    """
    project = copy_built(built_project, tmp_path_factory.mktemp("damaged") / "project")
    stale_after = (built_project.demo_now - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    rewrite_parquet(
        project.parquet("user_segment"),
        f"delete from t where event_timestamp > timestamp '{stale_after}'",
        "insert into t select * from t order by user_id, event_timestamp limit 1",
    )
    rewrite_parquet(
        project.parquet("user_watch_stats"),
        "update t set user_id = null where rowid = (select min(rowid) from t)",
    )
    return dbt_outcome(project, "test", "--select", *FEATURE_VIEWS, "--exclude", "test_type:unit")


def sync_cli(project: BuiltProject, redis_url: str, *args: str, as_of: datetime | None = None):
    env = {**os.environ, "REDIS_URL": redis_url}
    moment = as_of or project.demo_now
    return subprocess.run(
        [sys.executable, "-m", "sync", *args, "--project-dir", str(project.path), "--as-of", moment.isoformat()],
        env=env, capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR,
    )
