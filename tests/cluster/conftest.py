"""A real Redis Cluster (3 masters, a replica each) on loopback, and the sync run against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from sync.embedded_cluster import EmbeddedCluster
from tests.conftest import BuiltProject

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """One cluster for the session's non-destructive tests (the failover test starts its own)."""
    with EmbeddedCluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture
def cluster_url(cluster: EmbeddedCluster) -> str:
    """The session's cluster, every master emptied first."""
    for port in cluster.master_ports():
        cluster.node_client(port).flushall()
    return cluster.url


@pytest.fixture
def project(built_project: BuiltProject, tmp_path: Path) -> BuiltProject:
    """A private copy of the built project, whose data a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(built_project.path, copy, ignore=shutil.ignore_patterns("*.duckdb*", "sync_state"))
    return BuiltProject(copy, built_project.demo_now)


def sync_cli(project: BuiltProject, url: str, *args: str, as_of: datetime | None = None,
             **env_vars: str) -> subprocess.CompletedProcess[str]:
    moment = (as_of or project.demo_now).isoformat()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_CLUSTER"}  # detected unless given
    env.update({"REDIS_URL": url, **env_vars})
    return subprocess.run(
        [sys.executable, "-m", "sync", *args, "--project-dir", str(project.path), "--as-of", moment],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )


def synced(project: BuiltProject, url: str, *args: str, **kwargs) -> str:
    result = sync_cli(project, url, *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def assert_verified(project: BuiltProject, url: str, as_of: datetime | None = None) -> None:
    result = sync_cli(project, url, "verify", as_of=as_of)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == 3, result.stdout


def summary(stdout: str, view: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(f"{view}:"))


def cluster_client(url: str) -> redis.RedisCluster:
    return redis.RedisCluster.from_url(url, decode_responses=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
