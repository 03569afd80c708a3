"""Request ids, metrics and access logs for every request, as one pure ASGI middleware.

Pure ASGI, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware wraps each
request in extra tasks and streams, which halves the throughput of a lookup; this
costs a timer, a header and a few counter increments.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core import metrics
from api.middleware import request_ids
from api.middleware.fast_path import ROUTE_KEY

access_logger = logging.getLogger("api.access")


class Observability:
    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_ids.from_headers(scope["headers"])
        request_ids.current.set(request_id)  # for errors logged while it runs (the task ends with the request)
        id_header = (request_ids.HEADER, request_id.encode())
        status = 500  # unless a response starts: an exception escaped to the server's error handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            metrics.observe_request(endpoint(scope), scope["method"], status, seconds)
            if self.access_log:
                log_access(scope, status, seconds, request_id)


def endpoint(scope: Scope) -> str:
    """The route template the request took (never the raw path, so labels stay few)."""
    taken = scope.get(ROUTE_KEY)
    if taken is not None:
        return taken
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else metrics.UNMATCHED


def log_access(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    client = scope.get("client")
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": request_id,
        "method": scope["method"],
        "path": scope["path"],
        "endpoint": endpoint(scope),
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "client": client[0] if client else None,
    }
    access_logger.info(orjson.dumps(line).decode())
