"""A checked batch into its push log and Redis, with a blocking Redis client (the stream consumer's
path; the API does the same with its async pipe, `api.answers.push`)."""

from __future__ import annotations

from pathlib import Path

import redis

from feature_store.online.writes.resp_stream import RespStream
from feature_store.push import log
from feature_store.push.rows import PushBatch
from feature_store.push.script import GUARDED_ROW_SCRIPT, GUARDED_ROW_SHA


def keep(batch: PushBatch) -> Path:
    """The batch in its view's push log, durably (the acknowledgement's condition)."""
    assert batch.view.push_log is not None, "check_rows refuses views that take no pushes"
    return log.append(batch.view.push_log, batch.log_document())


def write_online(client: redis.Redis, prefix: str, batch: PushBatch) -> int:
    """Each row through the guarded script, in order; how many replaced the stored value (single node)."""
    if isinstance(client, redis.RedisCluster):
        raise redis.exceptions.RedisClusterException("pushes are written to a single Redis node, not a cluster")
    commands = batch.online_commands(prefix, GUARDED_ROW_SHA)
    stream = RespStream(client)
    try:
        try:
            replies = stream.send_integer_commands(commands)
        except redis.ResponseError as error:
            if "NOSCRIPT" not in str(error):
                raise
            client.script_load(GUARDED_ROW_SCRIPT)  # a Redis restarted or flushed since: writing again is harmless
            replies = stream.send_integer_commands(commands)
    finally:
        stream.close()
    return sum(replies)
