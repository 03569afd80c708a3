"""A master of the cluster crashes: the API answers 503 until the replica takes over, then serves the same
answers; a sync started in the middle of it succeeds (retrying), and verify passes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from feature_store.online.embedded.cluster import EmbeddedCluster
from tests.api.test_server import start_api, stop_api
from tests.cluster.conftest import assert_verified, synced
from tests.conftest import PROJECT_DIR, BuiltProject

USERS = [*range(1, 301)]
TIMEOUT = 0.5
RECOVERY_SECONDS = 30.0


@pytest.fixture
def doomed_cluster(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    """A cluster of its own (this test breaks it), detecting a dead node within a second."""
    with EmbeddedCluster(tmp_path / "cluster", node_timeout_ms=1000) as running:
        yield running


def wait_replicated(cluster: EmbeddedCluster, master: int) -> None:
    """Until the master's replica holds everything it wrote (replication is asynchronous)."""
    replica = cluster.node_client(cluster.replica_of(master))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        written = cluster.node_client(master).info("replication")["master_repl_offset"]
        if replica.info("replication")["slave_repl_offset"] >= written:
            return
        time.sleep(0.05)
    raise AssertionError("the replica did not catch up with its master")


def test_failover_of_one_master(project: BuiltProject, doomed_cluster: EmbeddedCluster) -> None:
    url = doomed_cluster.url
    synced(project, url)
    api, base = start_api(url, "--as-of", project.demo_now.isoformat(), API_REDIS_TIMEOUT_SECONDS=str(TIMEOUT))
    sync: subprocess.Popen[str] | None = None
    try:
        with httpx.Client(timeout=10) as http:
            before = http.post(f"{base}/features/user", json={"ids": USERS})
            assert before.status_code == 200
            url_port = int(url.rsplit(":", 1)[1].split("/")[0])
            victim = next(port for port in doomed_cluster.master_ports() if port != url_port)
            wait_replicated(doomed_cluster, victim)

            doomed_cluster.kill(victim)
            later = project.demo_now + timedelta(hours=1)
            sync = subprocess.Popen(  # during the failover: it must retry until the cluster is whole again
                [sys.executable, "-m", "sync", "--project-dir", str(project.path), "--as-of", later.isoformat(),
                 "--retries", "6", "--retry-wait", "0.5"],
                env={**os.environ, "REDIS_URL": url}, cwd=PROJECT_DIR, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            statuses = []
            deadline = time.monotonic() + RECOVERY_SECONDS
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = http.post(f"{base}/features/user", json={"ids": USERS})
                assert time.monotonic() - started < 4 * TIMEOUT + 1.5  # bounded, never a hang
                statuses.append(response.status_code)
                if response.status_code == 200:
                    assert response.json() == before.json()  # nothing lost: the replica had it all
                    break
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "redis_unavailable"
                time.sleep(0.2)
            assert statuses[-1] == 200, f"no recovery within {RECOVERY_SECONDS:.0f}s: {statuses}"
            assert 503 in statuses  # the dead master was noticed, not skipped

            stdout, stderr = sync.communicate(timeout=120)
            assert sync.returncode == 0, stdout + stderr
            assert "published registry version" in stdout, stdout
            doomed_cluster.wait_ready(replicated=False)
            assert http.get(f"{base}/features/user/1").status_code == 200
    finally:
        if sync is not None and sync.poll() is None:
            sync.kill()
            sync.communicate()
        stop_api(api)
    assert_verified(project, url, as_of=later)

