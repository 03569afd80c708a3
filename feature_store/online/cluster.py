"""Redis Cluster as the online store: whether `REDIS_URL` is one, and a client for it.

`REDIS_CLUSTER=1` says so; `REDIS_CLUSTER=0` says not; unset, the URL's node is
asked (`INFO cluster` -> `cluster_enabled:1`). The client is redis-py's
`RedisCluster`: it follows MOVED/ASK redirections and refreshes its slot map
after a failover. The sync's bulk writes bypass it per node (feature_store.online.writes.cluster_writes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import redis

from feature_store.errors import FeatureStoreError

CLUSTER_ENV = "REDIS_CLUSTER"
YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")


class ClusterSettingError(FeatureStoreError, ValueError):
    """`REDIS_CLUSTER` holds something else than yes, no or nothing."""


def cluster_setting(environ: Mapping[str, str] | None = None) -> bool | None:
    """`REDIS_CLUSTER`: True, False, or None to ask the server."""
    text = (os.environ if environ is None else environ).get(CLUSTER_ENV, "").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    if text in ("", "auto"):
        return None
    raise ClusterSettingError(
        f"{CLUSTER_ENV}={text!r}: use 1 (a cluster), 0 (one server) or leave it unset (ask the server)"
    )


def info_says_cluster(info: Mapping[str, object]) -> bool:
    return str(info.get("cluster_enabled", "0")) == "1"


def is_cluster(url: str, timeout: float = 5.0) -> bool:
    """`REDIS_CLUSTER` when set, else what the URL's node says; an unreachable node counts as no
    cluster (connecting then reports it)."""
    setting = cluster_setting()
    if setting is not None:
        return setting
    probe = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return info_says_cluster(probe.info("cluster"))
    except redis.RedisError:
        return False
    finally:
        probe.close()


def connect_cluster(url: str, decode_responses: bool = False, timeout: float = 5.0) -> redis.RedisCluster:
    """A cluster client from any node's URL (password and TLS included); it discovers the rest."""
    return redis.RedisCluster.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )


def primaries(client: redis.RedisCluster) -> list[tuple[str, redis.Redis]]:
    """Every master as (host:port, a client of that node alone)."""
    return [(node.name, client.get_redis_connection(node)) for node in client.get_primaries()]
