"""The reference the API is measured against: a bare ASGI app doing one HGETALL and answering orjson bytes.

It is what a lookup costs with no framework, no registry, no decoding and no
checks, under the same server and the same Redis: the ceiling the API can
approach. `GET /features/user/{id}` -> `{"id": ..., "features": {field: text}}`.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn bench.api.reference:app --workers 2
"""

from __future__ import annotations

import os

import orjson
import redis.asyncio as aioredis
from starlette.types import Receive, Scope, Send

HEADERS = [(b"content-type", b"application/json")]


class Reference:
    def __init__(self) -> None:
        self.client: aioredis.Redis | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self.client is not None
        entity_id = scope["path"].rsplit("/", 1)[-1]
        fields = await self.client.hgetall(f"user:{entity_id}")
        body = orjson.dumps({"id": entity_id, "features": fields})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = aioredis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = Reference()
