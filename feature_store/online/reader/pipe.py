"""Pipelined round trips to Redis on a lean connection pool: the read path's only way to Redis.

redis-py's pools take a lock, observability hooks and timers on every checkout,
and its Pipeline object builds a command stack per call; on a one-HGETALL
request that is a third of the work. Here a checkout is a list pop, every
command of a request goes out in one write, and one timer bounds the whole
round trip. redis-py still does the protocol: connections, RESP3 and hiredis;
the replies are taken from its hiredis reader in one loop rather than through
three layers of calls per reply (a batch of 100 reads 100 replies).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import redis.asyncio as aioredis
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    import hiredis

Command = Sequence[str | int]


def pack_commands(commands: Sequence[Command]) -> bytes:
    """Commands in RESP, as one buffer: the keys and names here are short ASCII/UTF-8 strings."""
    parts = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for argument in command:
            data = str(argument).encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def pack_hgetalls(keys: Sequence[str]) -> bytes:
    """One `HGETALL` per key, packed without a generic loop: a batch's hot spot."""
    return b"".join(b"*2\r\n$7\r\nHGETALL\r\n$%d\r\n%b\r\n" % (len(k), k) for k in map(str.encode, keys))


def pack_reads(version_key: str, keys: Sequence[str]) -> bytes:
    """`GET version_key` and one `HGETALL` per key."""
    version = version_key.encode()
    return b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(version), version) + pack_hgetalls(keys)


class RedisPipe:
    """Up to `max_connections` connections; a request waits at most `timeout` for one, and as long again
    for its replies, so a dead or hung Redis costs a bounded time, never a hang."""

    def __init__(self, url: str, max_connections: int, timeout: float) -> None:
        self._factory = aioredis.ConnectionPool.from_url(
            url,
            decode_responses=True,
            protocol=3,
            socket_timeout=None,  # one timer per round trip instead of one per read
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout = timeout
        self._max_connections = max_connections
        self._connections: list[AbstractConnection] = []
        self._idle: list[AbstractConnection] = []
        self._waiters: deque[asyncio.Future[AbstractConnection]] = deque()

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Every command's reply, in order, from one write and one read of the socket.

        A connection error is retried once, at once, on a new connection: an idle one may
        have been closed by a Redis restart (the commands are reads, so resending is safe).
        A timeout is not retried.
        """
        return await self.execute_packed(pack_commands(commands), len(commands))

    async def read_hashes(self, version_key: str, keys: Sequence[str]) -> tuple[str | None, list[dict[str, str]]]:
        """The registry version and every key's hash, in one round trip."""
        replies = await self.execute_packed(pack_reads(version_key, keys), len(keys) + 1)
        return replies[0], replies[1:]

    async def execute_packed(self, packed: bytes, count: int, errors_as_replies: bool = False) -> list[Any]:
        """`execute` for commands already in RESP (`count` of them). With `errors_as_replies`, a command's
        error comes back in its place (a ResponseError) instead of being raised."""
        connection = await self._acquire()
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    return await self._round_trip(connection, packed, count, errors_as_replies)
                except RedisConnectionError:
                    await connection.disconnect(nowait=True)
                    return await self._round_trip(connection, packed, count, errors_as_replies)
        except TimeoutError as error:
            await connection.disconnect(nowait=True)
            raise RedisTimeoutError(f"no reply within {self._timeout:g}s") from error
        except BaseException:
            await connection.disconnect(nowait=True)  # replies may be pending: the socket is unusable
            raise
        finally:
            self._release(connection)

    async def close(self) -> None:
        for connection in self._connections:
            await connection.disconnect()
        self._connections.clear()
        self._idle.clear()

    async def _round_trip(
        self, connection: AbstractConnection, packed: bytes, count: int, errors_as_replies: bool
    ) -> list[Any]:
        if not connection.is_connected:
            await connection.connect()
        await connection.send_packed_command(packed, check_health=False)
        parser = connection._parser
        if not isinstance(parser, _AsyncHiredisParser):
            return [await _read_one(connection, errors_as_replies) for _ in range(count)]
        try:
            return await _hiredis_replies(parser, count, errors_as_replies)
        except OSError as error:
            raise RedisConnectionError(f"error reading from Redis ({error})") from error

    async def _acquire(self) -> AbstractConnection:
        if self._idle:
            return self._idle.pop()
        if len(self._connections) < self._max_connections:
            connection = self._factory.make_connection()
            self._connections.append(connection)
            return connection
        waiter: asyncio.Future[AbstractConnection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self._timeout):
                return await waiter
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as the wait ended: pass it on
            else:
                waiter.cancel()
            if isinstance(error, TimeoutError):
                raise RedisConnectionError(
                    f"all {self._max_connections} Redis connections stayed busy for {self._timeout:g}s"
                ) from error
            raise

    def _release(self, connection: AbstractConnection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)


async def _read_one(connection: AbstractConnection, errors_as_replies: bool) -> Any:
    try:
        return await connection.read_response()
    except ResponseError as error:
        if errors_as_replies:
            return error
        raise


async def _hiredis_replies(parser: _AsyncHiredisParser, count: int, errors_as_replies: bool = False) -> list[Any]:
    """`count` replies from redis-py's hiredis reader, as its read_response gives them (an error reply
    raised, or kept in place), minus the per-reply calls. No push messages arrive: this client
    subscribes to nothing."""
    reader = cast("hiredis.Reader", parser._reader)  # redis-py types it as the None it holds until connected
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is NOT_ENOUGH_DATA:
            await parser.read_from_socket()  # raises ConnectionError when Redis closed the connection
            continue
        if isinstance(reply, ResponseError | RedisConnectionError) and not (
            errors_as_replies and isinstance(reply, ResponseError)
        ):
            raise reply
        replies.append(reply)
    return replies
