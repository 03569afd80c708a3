"""The sync against a real Redis Cluster: full, incremental, schema changes, and verify."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feature_store.online.embedded.cluster import EmbeddedCluster
from feature_store.online.writes.slots import key_slot
from tests.cluster.conftest import assert_verified, cluster_client, summary, sync_cli, synced
from tests.conftest import BuiltProject


def test_full_sync_spreads_over_every_master_and_verifies(project: BuiltProject, cluster: EmbeddedCluster,
                                                          cluster_url: str) -> None:
    output = synced(project, cluster_url)
    for view in ("user_last_genre", "user_segment", "user_watch_stats"):
        assert "full sync" in summary(output, view)
    sizes = [cluster.node_client(port).dbsize() for port in cluster.master_ports()]
    assert all(size > 500 for size in sizes), sizes  # 3,000 users spread over 3 masters
    client = cluster_client(cluster_url)
    assert client.hget("user:42", "_ts:user_segment")
    raw = client.get("{_fs}:registry")
    assert raw is not None
    registry = json.loads(raw)
    assert set(registry["views"]) == {"user_last_genre", "user_segment", "user_watch_stats"}
    assert_verified(project, cluster_url)


def test_incremental_sync_writes_only_changes_across_nodes(project: BuiltProject, cluster: EmbeddedCluster,
                                                           cluster_url: str) -> None:
    synced(project, cluster_url)
    again = synced(project, cluster_url)
    assert "unchanged since the last sync" in summary(again, "user_watch_stats")

    # Users on different masters: one gets new values, one a value that became null (the Lua replace),
    # one leaves a view.
    by_node: dict[int, int] = {}
    owners = {slot: port for port in cluster.master_ports() for slot in _slots_of(cluster, port)}
    for user in range(1, 200):
        by_node.setdefault(owners[key_slot(f"user:{user}".encode())], user)
    changed, nulled, leaving = list(by_node.values())[:3]
    now = project.demo_now.replace(tzinfo=None)
    path = project.parquet("user_watch_stats")
    table = pq.read_table(path)
    table = pa.concat_tables([table, pa.Table.from_pylist([
        {"user_id": changed, "event_timestamp": now - timedelta(minutes=5), "watch_count_30d": 99,
         "watch_minutes_30d": 990, "avg_minutes_per_title_30d": 10.0},
        {"user_id": nulled, "event_timestamp": now - timedelta(minutes=5), "watch_count_30d": 0,
         "watch_minutes_30d": 0, "avg_minutes_per_title_30d": None},
    ], schema=table.schema)])
    pq.write_table(table.filter(pc.not_equal(table["user_id"], leaving)), path)

    output = synced(project, cluster_url)
    assert "incremental" in summary(output, "user_watch_stats")
    assert " 2 written, 1 deleted" in summary(output, "user_watch_stats"), output
    client = cluster_client(cluster_url)
    assert client.hget(f"user:{changed}", "watch_count_30d") == "99"
    assert not client.hexists(f"user:{nulled}", "avg_minutes_per_title_30d")
    assert not client.hexists(f"user:{leaving}", "_ts:user_watch_stats")
    assert client.hexists(f"user:{leaving}", "user_segment")
    assert_verified(project, cluster_url)


def test_flushed_cluster_gets_a_full_sync_that_clears_stale_entities(project: BuiltProject, cluster: EmbeddedCluster,
                                                                     cluster_url: str) -> None:
    synced(project, cluster_url)
    client = cluster_client(cluster_url)
    client.delete("{_fs}:version")  # as after a flush of the master holding the store's own keys
    client.hset("user:99999999", mapping={"_ts:user_segment": "2026-01-01T00:00:00Z", "user_segment": "casual"})
    output = synced(project, cluster_url)
    assert "full sync: Redis does not hold the data of the last sync" in output
    assert not client.hexists("user:99999999", "user_segment")  # found by a scan of every master
    assert_verified(project, cluster_url)


def test_redis_cluster_setting_and_an_evicting_master(project: BuiltProject, cluster: EmbeddedCluster,
                                                      cluster_url: str) -> None:
    forced = sync_cli(project, cluster_url, REDIS_CLUSTER="1")
    assert forced.returncode == 0, forced.stderr
    last_master = cluster.master_ports()[-1]
    cluster.node_client(last_master).config_set("maxmemory-policy", "allkeys-lru")
    try:
        refused = sync_cli(project, cluster_url)
    finally:
        cluster.node_client(last_master).config_set("maxmemory-policy", "noeviction")
    assert refused.returncode == 1
    assert f"Redis node 127.0.0.1:{last_master} maxmemory-policy is 'allkeys-lru'" in refused.stderr


def _slots_of(cluster: EmbeddedCluster, port: int) -> list[int]:
    slots = cluster.node_client(port).execute_command("CLUSTER SLOTS")
    return [slot for row in slots if row[2][1] == port for slot in range(row[0], row[1] + 1)]


def test_workers_sync_into_a_cluster(project: BuiltProject, cluster: EmbeddedCluster, cluster_url: str) -> None:
    output = synced(project, cluster_url, "--full", "--workers", "2")
    for view in ("user_last_genre", "user_segment", "user_watch_stats"):
        assert "full sync" in summary(output, view)
    assert_verified(project, cluster_url)
