"""A pure ASGI shortcut for the hot endpoints, so they skip FastAPI's routing and parameter solving.

`GET /features/{entity}/{id}`, `POST /features/{entity}`, `GET /context/{entity}/{id}`,
`POST /context/{entity}` and `POST /get-online-features` are answered here with the
functions the documented FastAPI routes use (api.answers.entities, api.answers.feast), so the answers
are the same; FastAPI's per-request parameter machinery alone cost about three
times the Redis round trip. Anything else, including near misses (a trailing
slash, an empty segment, HEAD), passes through to FastAPI unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.answers.entities import batch_answer, context_answer, context_batch_answer, features_answer, read_body
from api.answers.feast import feast_answer
from api.core.errors import ApiError, log_server_error

JSON_HEADER = (b"content-type", b"application/json")
ROUTE_KEY = "feature_store.route"  # the route template a request took here, for the metrics' endpoint label

FEATURES = "/features/{entity}/{id}"
FEATURES_BATCH = "/features/{entity}"
CONTEXT = "/context/{entity}/{id}"
CONTEXT_BATCH = "/context/{entity}"
FEAST = "/get-online-features"


class FeatureFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._route(scope, receive) if scope["type"] == "http" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        status = 200
        try:
            body = await answer
        except ApiError as error:
            log_server_error(error, scope["method"], scope["path"])
            status, body = error.status_code, error.json()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [JSON_HEADER, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _route(self, scope: Scope, receive: Receive) -> Awaitable[bytes] | None:
        """The answer's coroutine when this path serves the request, else None (FastAPI will)."""
        path: str = scope["path"]
        method = scope["method"]
        parts = path.split("/")  # ["", "features", entity, id?]
        if len(parts) == 4 and parts[2] and parts[3] and method == "GET":
            if parts[1] == "features":
                scope[ROUTE_KEY] = FEATURES
                return features_answer(scope["app"].state.store, parts[2], parts[3], _features_param(scope))
            if parts[1] == "context":
                scope[ROUTE_KEY] = CONTEXT
                return context_answer(scope["app"].state.store, parts[2], parts[3])
        elif len(parts) == 3 and parts[2] and method == "POST":
            if parts[1] == "features":
                scope[ROUTE_KEY] = FEATURES_BATCH
                return self._batch(scope, receive, parts[2], batch_answer)
            if parts[1] == "context":
                scope[ROUTE_KEY] = CONTEXT_BATCH
                return self._batch(scope, receive, parts[2], context_batch_answer)
        elif path == FEAST and method == "POST":
            scope[ROUTE_KEY] = FEAST
            return self._feast(scope, receive)
        return None

    async def _batch(self, scope: Scope, receive: Receive, entity: str, answer) -> bytes:
        settings = scope["app"].state.settings
        body = await _body(scope, receive, settings.max_body_bytes)
        return await answer(scope["app"].state.store, entity, body, settings.max_batch_ids)

    async def _feast(self, scope: Scope, receive: Receive) -> bytes:
        settings = scope["app"].state.settings
        body = await _body(scope, receive, settings.max_body_bytes)
        return await feast_answer(scope["app"].state.store, body, settings.max_batch_ids)


def _features_param(scope: Scope) -> str | None:
    features = None
    if scope["query_string"]:
        for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
            if name == "features":
                features = value  # the last one wins, as in FastAPI
    return features


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = next(
        (value.decode("latin-1") for name, value in scope["headers"] if name == b"content-length"), None
    )
    return await read_body(_chunks(receive), declared, limit)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
