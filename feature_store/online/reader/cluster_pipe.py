"""Reads from a Redis Cluster: a request's keys grouped by node, one round trip per node, all at once.

`ClusterPipe` answers like `RedisPipe` (feature_store.online.reader.pipe), which it uses for each
node. The slot map comes from CLUSTER SLOTS, asked of any node that answers.
A request's keys are grouped by the master owning their slot; each group is one
pipelined round trip and the groups run concurrently, so a batch spanning every
slot costs one round trip per node, and its replies are put back in request
order. A MOVED or ASK reply (a slot moved: failover, resharding) is followed at
once, and MOVED marks the map for a reload; a node that fails or times out also
marks it, so the request gets a 503 and a later one finds the new master once
the cluster has failed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.crc import key_slot
from redis.exceptions import AskError, MovedError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from feature_store.online.client import is_cluster
from feature_store.online.reader.pipe import Command, RedisPipe, pack_commands, pack_hgetalls

logger = logging.getLogger("api")

SLOTS = 16384
TRANSACTION_WORDS = ("MULTI", "EXEC")


def node_url(url: str, address: str) -> str:
    """`url` (scheme, password, options) pointed at another node `host:port`."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{address}" if credentials else address))


class ClusterPipe:
    """`read_hashes` and `execute` on a Redis Cluster, with the bounds of a RedisPipe per node."""

    def __init__(self, url: str, max_connections: int, timeout: float) -> None:
        self._url = url
        self._max_connections = max_connections
        self._timeout = timeout
        self._pipes: dict[str, RedisPipe] = {}
        self._seed = urlsplit(url).netloc.rpartition("@")[2]
        self._owners: list[str] = []  # slot -> "host:port" of its master; empty: load before use
        self._refresh_lock = asyncio.Lock()

    def _pipe(self, address: str) -> RedisPipe:
        pipe = self._pipes.get(address)
        if pipe is None:
            pipe = self._pipes[address] = RedisPipe(node_url(self._url, address), self._max_connections,
                                                    self._timeout)
        return pipe

    # --- the slot map ------------------------------------------------------------------

    async def _slot_map(self) -> list[str]:
        if not self._owners:
            await self._refresh()
        return self._owners

    def _forget_map(self) -> None:
        self._owners = []

    async def _refresh(self) -> None:
        """Load the slot map from the first node that answers, unless another request just did."""
        async with self._refresh_lock:
            if self._owners:
                return
            failure: Exception | None = None
            try:
                async with asyncio.timeout(self._timeout):
                    for address in list(dict.fromkeys([self._seed, *self._pipes])):
                        try:
                            (slots,) = await self._pipe(address).execute([("CLUSTER", "SLOTS")])
                        except RedisError as error:
                            failure = error
                            continue
                        self._owners = _owners(slots, address.rpartition(":")[0])
                        return
            except TimeoutError as error:
                raise RedisTimeoutError(f"no cluster node gave its slot map within {self._timeout:g}s") from error
            raise RedisConnectionError(f"no cluster node answered CLUSTER SLOTS (last: {failure})")

    # --- reads -------------------------------------------------------------------------------

    async def read_hashes(self, version_key: str, keys: Sequence[str]) -> tuple[str | None, list[dict[str, str]]]:
        """The registry version and every key's hash: one round trip per node holding any of them."""
        commands: list[tuple[str, str]] = [("GET", version_key), *(("HGETALL", key) for key in keys)]
        replies = await self._route(commands)
        return replies[0], replies[1:]

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Commands whose keys share one slot (the store's own `{_fs}` keys), MULTI/EXEC included,
        in order on the node owning it."""
        keys = [str(command[1]) for command in commands if len(command) > 1 and command[0] not in TRANSACTION_WORDS]
        slots = {key_slot(key.encode()) for key in keys}
        if len(slots) > 1:
            raise ResponseError("CROSSSLOT: these commands' keys are in different hash slots")
        slot = slots.pop() if slots else None
        for attempt in (1, 2):
            owners = await self._slot_map()
            address = self._seed if slot is None else owners[slot]
            try:
                return await self._pipe(address).execute(commands)
            except (MovedError, RedisConnectionError, RedisTimeoutError) as error:
                self._forget_map()  # MOVED: retried once on the new map; the others: 503, reloaded next time
                if attempt == 2 or not isinstance(error, MovedError):
                    raise self._at(address, error) from error
        raise AssertionError("unreachable")

    async def _route(self, commands: list[tuple[str, str]]) -> list[Any]:
        owners = await self._slot_map()
        groups: dict[str, list[int]] = {}
        for index, (_, key) in enumerate(commands):
            groups.setdefault(owners[key_slot(key.encode())], []).append(index)
        replies: list[Any] = [None] * len(commands)
        redirected = await self._gather(commands, groups, replies, asking=False)
        if redirected:
            await self._follow(commands, redirected, replies)
        return replies

    async def _gather(
        self, commands: list[tuple[str, str]], groups: dict[str, list[int]], replies: list[Any], asking: bool
    ) -> list[tuple[int, AskError]]:
        """Every group on its node at once; fills `replies`, returns the commands redirected elsewhere."""
        addresses = list(groups)
        answers = await asyncio.gather(
            *(self._send(address, [commands[i] for i in groups[address]], asking) for address in addresses),
            return_exceptions=True,
        )
        redirected: list[tuple[int, AskError]] = []
        for address, answer in zip(addresses, answers, strict=True):
            if isinstance(answer, BaseException):
                self._forget_map()
                if isinstance(answer, RedisError):
                    raise self._at(address, answer) from answer
                raise answer
            for index, reply in zip(groups[address], answer, strict=True):
                if isinstance(reply, AskError):  # MOVED included
                    redirected.append((index, reply))
                elif isinstance(reply, ResponseError):
                    self._forget_map()  # CLUSTERDOWN, TRYAGAIN...: the cluster is changing
                    raise self._at(address, reply)
                else:
                    replies[index] = reply
        return redirected

    async def _follow(
        self, commands: list[tuple[str, str]], redirected: list[tuple[int, AskError]], replies: list[Any]
    ) -> None:
        """Send redirected commands where the cluster said, once: MOVED as is (and reload the map
        later), ASK preceded by ASKING."""
        moved: dict[str, list[int]] = {}
        asked: dict[str, list[int]] = {}
        for index, error in redirected:
            target = moved if isinstance(error, MovedError) else asked
            target.setdefault(f"{error.host}:{error.port}", []).append(index)
        if moved:
            self._forget_map()
        again = await self._gather(commands, moved, replies, asking=False)
        again += await self._gather(commands, asked, replies, asking=True)
        if again:
            index, error = again[0]
            raise RedisConnectionError(f"{commands[index][1]} was redirected twice ({error}): the cluster is "
                                       "resharding or failing over; retry")

    async def _send(self, address: str, commands: list[tuple[str, str]], asking: bool) -> list[Any]:
        if asking:
            packed = pack_commands([part for command in commands for part in (("ASKING",), command)])
            replies = await self._pipe(address).execute_packed(packed, 2 * len(commands), errors_as_replies=True)
            return replies[1::2]
        if all(name == "HGETALL" for name, _ in commands):
            packed = pack_hgetalls([key for _, key in commands])
        else:
            packed = pack_commands(commands)
        return await self._pipe(address).execute_packed(packed, len(commands), errors_as_replies=True)

    def _at(self, address: str, error: RedisError) -> RedisError:
        """The error naming the node, of the same kind (a timeout stays a timeout)."""
        return type(error)(f"cluster node {address}: {error}") if not isinstance(error, AskError) else error

    async def close(self) -> None:
        for pipe in self._pipes.values():
            await pipe.close()
        self._pipes.clear()


def _owners(slots: list[Any], default_host: str) -> list[str]:
    """CLUSTER SLOTS rows ([start, end, [host, port, id], replicas...]) as slot -> master address."""
    owners = [""] * SLOTS
    for row in slots:
        start, end, master = int(row[0]), int(row[1]), row[2]
        host = master[0] if master[0] not in ("", "?", None) else default_host
        address = f"{host}:{int(master[1])}"
        owners[start:end + 1] = [address] * (end - start + 1)
    if "" in owners:
        raise RedisConnectionError(f"hash slot {owners.index('')} has no master: the cluster is incomplete")
    return owners


async def open_pipe(url: str, max_connections: int, timeout: float, cluster: bool | None) -> RedisPipe | ClusterPipe:
    """A ClusterPipe for a cluster (`cluster`, or asked of the node when None), else a RedisPipe."""
    if await asyncio.to_thread(is_cluster, url, timeout, cluster):
        return ClusterPipe(url, max_connections, timeout)
    return RedisPipe(url, max_connections, timeout)
