"""Ready-made RESP commands streamed to one Redis server, replies counted rather than parsed."""

from __future__ import annotations

import socket
from typing import cast

import pyarrow as pa
import redis

from feature_store.online.writes.arrow_strings import string_data


def pack(*parts: bytes) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


def payload_of(commands: pa.Array) -> memoryview:
    """The bytes of a string array of ready-made commands, back to back, without a copy."""
    if commands.null_count:
        raise ValueError("a change rendered no Redis command (a null in its text)")
    return string_data(commands)


def failed_writes(failures: list[tuple[int, str]], count: int) -> redis.ResponseError:
    return redis.ResponseError(f"{len(failures)} of {count} writes failed, first: {failures[0][1]}")


class RespStream:
    """Ready-made RESP commands written straight to a connection's socket, replies counted.

    Every command the sync sends this way answers with one line (an integer, or
    an error starting with `-`), so replies are counted by line ends instead of
    parsed one by one: the same work `redis-cli --pipe` does.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self.connection = self.pool.get_connection()
        self.connection.connect()

    def send(self, commands: pa.Array, ids: pa.Array | None = None) -> None:
        """Send the commands; raise when any failed (`ids` matter only to a cluster's stream)."""
        failures = self.send_payload(payload_of(commands), len(commands))
        if failures:
            raise failed_writes(failures, len(commands))

    def send_integer_commands(self, commands: list[bytes]) -> list[int]:
        """Send packed commands that each answer an integer (HDEL, say); their answers, raising when any failed."""
        replies = self._exchange(b"".join(commands), len(commands), keep_replies=True)
        failures = [(index, line[1:].decode(errors="replace")) for index, line in enumerate(replies)
                    if line.startswith(b"-")]
        if failures:
            raise failed_writes(failures, len(commands))
        return [int(line[1:]) for line in replies]

    def send_payload(self, payload: memoryview | bytes, count: int) -> list[tuple[int, str]]:
        """Send `count` commands; return the failed ones as (position, error text)."""
        replies = self._exchange(payload, count, keep_replies=False)
        return [(index, line[1:].decode(errors="replace")) for index, line in enumerate(replies)
                if line.startswith(b"-")]

    def _exchange(self, payload: memoryview | bytes, count: int, keep_replies: bool) -> list[bytes]:
        """Send `count` commands; their reply lines (only when one failed, unless `keep_replies`)."""
        if self.connection._sock is None:
            self.connection.connect()
        sock = cast(socket.socket, self.connection._sock)  # redis-py types it as the None it holds until connect()
        try:
            sock.sendall(payload)
            return self._read_replies(sock, count, keep_replies)
        except TimeoutError as error:
            self.connection.disconnect()
            raise redis.TimeoutError(f"Redis did not answer the sync's writes in time ({error})") from error
        except OSError as error:
            self.connection.disconnect()
            raise redis.ConnectionError(f"the connection to Redis broke during the sync ({error})") from error
        except BaseException:
            self.connection.disconnect()
            raise

    @staticmethod
    def _read_replies(sock, expected: int, keep_replies: bool) -> list[bytes]:
        seen = 0
        carry_cr = False
        replies = bytearray()
        failed = False
        while seen < expected:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise redis.ConnectionError("Redis closed the connection while the sync was writing")
            seen += chunk.count(b"\r\n") + (1 if carry_cr and chunk.startswith(b"\n") else 0)
            carry_cr = chunk.endswith(b"\r")
            replies += chunk
            failed = failed or b"-" in chunk
        if not failed and not keep_replies:
            return []
        return bytes(replies).split(b"\r\n")[:expected]

    def close(self) -> None:
        self.pool.release(self.connection)
