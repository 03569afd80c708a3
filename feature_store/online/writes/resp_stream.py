"""Ready-made RESP commands streamed to one Redis server, replies counted rather than parsed."""

from __future__ import annotations

import pyarrow as pa
import redis

from feature_store.online.writes.arrow_strings import string_data


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

    def send_payload(self, payload: memoryview | bytes, count: int) -> list[tuple[int, str]]:
        """Send `count` commands; return the failed ones as (position, error text)."""
        if self.connection._sock is None:
            self.connection.connect()
        sock = self.connection._sock
        try:
            sock.sendall(payload)
            return self._read_replies(sock, count)
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
    def _read_replies(sock, expected: int) -> list[tuple[int, str]]:
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
        if not failed:
            return []
        lines = bytes(replies).split(b"\r\n")
        return [(index, line[1:].decode(errors="replace")) for index, line in enumerate(lines)
                if line.startswith(b"-")]

    def close(self) -> None:
        self.pool.release(self.connection)
