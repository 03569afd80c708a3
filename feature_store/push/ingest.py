"""A checked batch into its push log and Redis, with a blocking Redis client (the stream consumer's
path; the API does the same with its async pipe, `api.answers.push`)."""

from __future__ import annotations

from pathlib import Path

import redis

from feature_store.push import log
from feature_store.push.rows import PushBatch
from feature_store.push.script import GUARDED_ROW_SCRIPT, GUARDED_ROW_SHA


def keep(batch: PushBatch) -> Path:
    """The batch in its view's push log, durably (the acknowledgement's condition)."""
    assert batch.view.push_log is not None, "check_rows refuses views that take no pushes"
    return log.append(batch.view.push_log, batch.log_lines())


def write_online(client: redis.Redis | redis.RedisCluster, prefix: str, batch: PushBatch) -> int:
    """Each row through the guarded script, in order; how many replaced the stored value."""
    commands = batch.online_commands(prefix, GUARDED_ROW_SHA)
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        replies = pipe.execute(raise_on_error=False)
        if attempt == 1 and any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies):
            client.script_load(GUARDED_ROW_SCRIPT)  # a Redis restarted or flushed since
            continue
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors:
            raise errors[0]
        return sum(1 for reply in replies if reply == 1)
    raise AssertionError("unreachable")
