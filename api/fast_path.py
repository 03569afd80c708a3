"""A pure ASGI shortcut for the two hot endpoints, so they skip FastAPI's routing and parameter solving.

`GET /features/{entity}/{id}` and `POST /features/{entity}` are answered here with
the functions the documented FastAPI routes use (api.answers), so the answers are
the same; FastAPI's per-request parameter machinery alone cost about three times
the Redis round trip. Anything else, including near misses (a trailing slash, an
empty segment, HEAD), passes through to FastAPI unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.answers import batch_answer, features_answer, read_body
from api.errors import ApiError, log_server_error

JSON_HEADER = (b"content-type", b"application/json")


class FeatureFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/features/"):
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")  # ["", "features", entity, id?]
        method = scope["method"]
        if method == "GET" and len(parts) == 4 and parts[2] and parts[3]:
            answer = self._single(scope, parts[2], parts[3])
        elif method == "POST" and len(parts) == 3 and parts[2]:
            answer = self._batch(scope, receive, parts[2])
        else:
            await self.app(scope, receive, send)
            return
        status = 200
        try:
            body = await answer
        except ApiError as error:
            log_server_error(error, method, scope["path"])
            status, body = error.status_code, error.json()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [JSON_HEADER, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _single(self, scope: Scope, entity: str, entity_id: str) -> bytes:
        features = None
        if scope["query_string"]:
            for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                if name == "features":
                    features = value  # the last one wins, as in FastAPI
        return await features_answer(scope["app"].state.store, entity, entity_id, features)

    async def _batch(self, scope: Scope, receive: Receive, entity: str) -> bytes:
        state = scope["app"].state
        declared = next(
            (value.decode("latin-1") for name, value in scope["headers"] if name == b"content-length"), None
        )
        body = await read_body(_chunks(receive), declared, state.settings.max_body_bytes)
        return await batch_answer(state.store, entity, body, state.settings.max_batch_ids)


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
