"""Connecting to the online store: `REDIS_URL` when set, else the project's embedded server.

`REDIS_URL` may name any node of a Redis Cluster. `REDIS_CLUSTER=1` says so;
`REDIS_CLUSTER=0` says not; unset, the URL's node is asked (`INFO cluster` ->
`cluster_enabled:1`), once, by `is_cluster`. The sync's client is then redis-py's
`RedisCluster` (it follows MOVED/ASK and refreshes its slot map after a failover;
the bulk writes bypass it per node, see `writes.cluster_writes`), and server checks
run on every master; the API's reader is a `reader.cluster_pipe.ClusterPipe`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import redis

from feature_store.errors import FeatureStoreError, RedisUnavailable, UnsafeRedis
from feature_store.online.embedded.server import ensure_project_redis

REDIS_URL_ENV = "REDIS_URL"
SAFE_MEMORY_POLICIES = ("noeviction",)
CLUSTER_ENV = "REDIS_CLUSTER"
YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")
logger = logging.getLogger("feature_store")


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
    """Whether `INFO cluster`'s fields say the node runs in cluster mode."""
    return str(info.get("cluster_enabled", "0")) == "1"


def is_cluster(url: str, timeout: float = 5.0, setting: bool | None = None) -> bool:
    """The one decision between a single server and a cluster, for the sync's client and the API's
    reader alike: `setting` (or `REDIS_CLUSTER`) when given, else what the URL's node says. An
    unreachable node counts as a single server, with a warning (connecting then reports it)."""
    if setting is None:
        setting = cluster_setting()
    if setting is not None:
        return setting
    probe = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return info_says_cluster(probe.info("cluster"))
    except redis.RedisError as error:
        logger.warning("could not ask Redis at %s whether it is a cluster (%s): taking it as one server; "
                       "set REDIS_CLUSTER=1 when it is a cluster", describe(url), error)
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


def redis_url(project_dir: Path, start_embedded: bool = True) -> str:
    """`$REDIS_URL` (redis:// or rediss://, password included) wins; else the embedded server."""
    url = os.environ.get(REDIS_URL_ENV)
    if url:
        return url
    if not start_embedded:
        raise RedisUnavailable(f"{REDIS_URL_ENV} is not set and the embedded server is not running")
    return ensure_project_redis(project_dir)


Client = redis.Redis | redis.RedisCluster


def connect(url: str, decode_responses: bool = False, timeout: float = 5.0) -> Client:
    """A client with bounded timeouts, so a dead server gives an error, never a hang; a cluster
    client when the URL names a cluster node (or `REDIS_CLUSTER=1`)."""
    if is_cluster(url, timeout):
        try:
            return connect_cluster(url, decode_responses, timeout)
        except redis.RedisError as error:
            raise RedisUnavailable(f"cannot reach the Redis Cluster at {describe(url)} ({error}): point REDIS_URL "
                                   "at a node that is up") from error
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def check_reachable(client: Client, url: str) -> None:
    try:
        client.ping()
    except redis.RedisError as error:
        raise RedisUnavailable(
            f"cannot reach Redis at {describe(url)} ({error}): start it, or unset REDIS_URL to use "
            "the embedded server"
        ) from error


def check_memory_policy(client: Client) -> None:
    """Refuse a Redis that may evict keys: an evicted feature would be served as silently missing.
    On a cluster, every master is asked: each holds its own share of the features."""
    servers = primaries(client) if isinstance(client, redis.RedisCluster) else [("", client)]
    for name, server in servers:
        policy = server.info("memory").get("maxmemory_policy", "noeviction")
        if isinstance(policy, bytes):
            policy = policy.decode()
        if policy not in SAFE_MEMORY_POLICIES:
            where = f"Redis node {name}" if name else "Redis"
            raise UnsafeRedis(
                f"{where} maxmemory-policy is '{policy}', which can evict features and serve them as missing; "
                "set it to noeviction (`CONFIG SET maxmemory-policy noeviction`, or in redis.conf)"
            )
