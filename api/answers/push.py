"""`POST /push/{view}` and Feast's `POST /push`: rows into a push-fed view.

In this order, so an answer of 200 means kept: every row is checked against the registry (one bad
row refuses the batch, 422, nothing written); the rows go to the view's push log, durably
(`feature_store.push.log`: fsynced and renamed before this returns); then each row goes to Redis
through the guarded script (`feature_store.push.script`), which keeps a newer stored value. The log
write runs in a thread, so the event loop serves other requests meanwhile.

When Redis fails after the log write, the answer is 503 saying so: the rows are kept (the next build
and sync serve them), and pushing them again is harmless.
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
from redis.exceptions import NoScriptError, RedisError, ResponseError

from api.core.errors import ApiError, InvalidRequest
from api.reader.cluster_pipe_guard import require_single_node
from api.reader.store import OnlineStore
from feature_store.push import log
from feature_store.push.rows import IngestClock, NotPushFed, PushBatch, PushRefused, check_rows
from feature_store.push.script import GUARDED_ROW_SCRIPT, GUARDED_ROW_SHA

FEAST_TARGETS = ("online", "offline", "online_and_offline")
INGEST_CLOCK = IngestClock()


class NotPushable(ApiError):
    status_code = 404
    code = "not_push_fed"


class InvalidRows(ApiError):
    status_code = 422
    code = "invalid_rows"


class PushNotOnline(ApiError):
    status_code = 503
    code = "push_not_online"


def parse_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error})") from error


def rows_of_native(data: Any) -> Any:
    """Our body: the rows themselves (a list of objects, or columns), or `{"rows": ...}`."""
    if isinstance(data, dict) and set(data) == {"rows"}:
        return data["rows"]
    return data


def feast_request(data: Any) -> tuple[str, Any, str]:
    """Feast's push body: the view (its push source), the columns, and where to."""
    if not isinstance(data, dict):
        raise InvalidRequest('the body must be Feast\'s push request: {"push_source_name", "df", "to"}')
    name = data.get("push_source_name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("push_source_name is missing: name the push-fed view to push to")
    if "df" not in data:
        raise InvalidRequest('df is missing: send the rows as columns, {"df": {column: [values]}}')
    target = data.get("to", "online")
    if target not in FEAST_TARGETS:
        raise InvalidRequest(f"to={target!r}: use one of {', '.join(FEAST_TARGETS)}")
    unknown = sorted(set(data) - {"push_source_name", "df", "to", "allow_registry_cache"})
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(unknown)} in the push request")
    return name, data["df"], target


async def push(store: OnlineStore, view: str, rows: Any, online: bool = True) -> dict[str, Any]:
    batch = await _checked(store, view, rows)
    assert batch.view.push_log is not None  # check_rows refuses views without a log
    path = await anyio.to_thread.run_sync(log.append, batch.view.push_log, batch.log_document())
    answer: dict[str, Any] = {"view": batch.view.name, "rows": batch.count, "kept": True,
                              "log_file": path.name}
    if online:
        applied = await write_online(store, batch)
        answer["online"] = {"applied": applied, "kept_newer": batch.count - applied}
    return answer


async def _checked(store: OnlineStore, view: str, rows: Any) -> PushBatch:
    served = await store.served_registry()
    try:
        try:
            return check_rows(served.registry, view, rows, store.clock(), INGEST_CLOCK)
        except NotPushFed:
            served = await store.current_served_registry()  # perhaps published a moment ago
            return check_rows(served.registry, view, rows, store.clock(), INGEST_CLOCK)
    except NotPushFed as error:
        raise NotPushable(str(error), push_fed_views=error.pushable) from error
    except PushRefused as error:
        raise InvalidRows(str(error), invalid_rows=[p.to_dict() for p in error.problems],
                          invalid_count=error.count) from error


async def write_online(store: OnlineStore, batch: PushBatch) -> int:
    """Each row through the guarded script; how many landed (the rest met a newer stored value)."""
    pipe = require_single_node(store.pipe)
    packed = b"".join(batch.online_commands(store.prefix, GUARDED_ROW_SHA))
    try:
        replies = await pipe.execute_packed(packed, batch.count, errors_as_replies=True)
        if any(isinstance(r, NoScriptError) for r in replies):
            await pipe.execute([("SCRIPT", "LOAD", GUARDED_ROW_SCRIPT.decode())])  # a restarted Redis
            replies = await pipe.execute_packed(packed, batch.count, errors_as_replies=True)
    except RedisError as error:
        raise PushNotOnline(
            f"the {batch.count} rows are kept in the push log of {batch.view.name!r}, but Redis failed "
            f"({error}): they are served after the next build and sync; pushing them again is harmless"
        ) from error
    failed = [str(r) for r in replies if isinstance(r, ResponseError)]
    if failed:
        raise PushNotOnline(f"the rows are kept in the push log, but Redis refused {len(failed)} writes "
                            f"({failed[0]}): they are served after the next build and sync")
    return sum(1 for reply in replies if reply == 1)

