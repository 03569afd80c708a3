"""Shared fixtures: a real `dbt build` of a copy of the project, and a real redis-server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What a `dbt build` needs; copied so the tests never touch the working copy's data.
PROJECT_PARTS = ("dbt_project.yml", "profiles", "seeds", "models", "macros", "data")
# The demo's clock is pinned so every test run builds the same history.
DEMO_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DBT = Path(sys.executable).parent / "dbt"


@dataclass(frozen=True)
class BuiltProject:
    path: Path
    demo_now: datetime

    @property
    def manifest(self) -> Path:
        return self.path / "target" / "manifest.json"

    def parquet(self, view: str) -> Path:
        return self.path / "data" / "features" / f"{view}.parquet"


def copy_project(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=shutil.ignore_patterns("*.parquet"))
        else:
            shutil.copy2(source, destination / part)
    return destination


def run_dbt(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_PROFILES_DIR": str(project / "profiles")}
    env.pop("FEATURE_STORE_DUCKDB_PATH", None)
    result = subprocess.run(
        [str(DBT), *args, "--project-dir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    if check and result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{output}")
    return result


def demo_vars(now: datetime) -> str:
    return f'{{"demo_now": "{now.strftime("%Y-%m-%d %H:%M:%S")}"}}'


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """A copy of the project after a real `dbt build` (seeds, models, tests)."""
    project = copy_project(tmp_path_factory.mktemp("built") / "project")
    run_dbt(project, "build", "--vars", demo_vars(DEMO_NOW))
    return BuiltProject(project, DEMO_NOW)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free loopback port, for the whole session."""
    from feature_store.online.embedded.server import EmbeddedRedis

    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's server, emptied before each test that asks for it."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def project(built_project: BuiltProject, tmp_path: Path) -> BuiltProject:
    """A private copy of the built project, whose data and definitions a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(built_project.path, copy, ignore=shutil.ignore_patterns("*.duckdb*", "sync_state"))
    return BuiltProject(copy, built_project.demo_now)
