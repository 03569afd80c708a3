"""A real Redis Cluster (3 masters, a replica each) on loopback, and the sync run against it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import redis

from feature_store.online.embedded.cluster import EmbeddedCluster
from tests.conftest import BuiltProject
from tests.sync_cli import assert_verified as verified
from tests.sync_cli import summary, sync_cli, synced  # noqa: F401  (used by the cluster tests)


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


def assert_verified(project: BuiltProject, url: str, as_of: datetime | None = None) -> None:
    """Verify passes, for each of the demo's three views."""
    output = verified(project, url, as_of)
    assert output.count(": ok") == 3, output


def cluster_client(url: str) -> redis.RedisCluster:
    return redis.RedisCluster.from_url(url, decode_responses=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
