"""Connecting to the online store: `REDIS_URL` when set, else the project's embedded server.

`REDIS_URL` may name any node of a Redis Cluster (see feature_store.online.cluster); the client is then
redis-py's cluster client, and server checks run on every master.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis

from feature_store.errors import RedisUnavailable, UnsafeRedis
from feature_store.online.cluster import connect_cluster, is_cluster, primaries
from feature_store.online.embedded.server import ensure_project_redis

REDIS_URL_ENV = "REDIS_URL"
SAFE_MEMORY_POLICIES = ("noeviction",)


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
