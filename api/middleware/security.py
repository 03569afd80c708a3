"""The optional API key: with `API_KEY` set, every endpoint but /health (and the docs' static files)
wants `Authorization: Bearer <key>`.

A pure ASGI middleware, so an unauthenticated request is refused before any
routing, body read or Redis round trip. The key is compared in constant time and
never logged; /health stays open so a liveness probe needs no secret.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from api.core.errors import Unauthorized

OPEN_PATHS = frozenset({"/health"})
OPEN_PREFIX = "/docs-assets/"  # Swagger UI's and ReDoc's static files: no data, and a browser sends no key for them
SCHEME = b"bearer "


class ApiKeyAuth:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIX) or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        given = any(name == b"authorization" for name, _ in scope["headers"])
        error = Unauthorized(
            "the API key is not valid: send `Authorization: Bearer <API_KEY>`"
            if given
            else "this API wants a key: send `Authorization: Bearer <API_KEY>`"
        )
        body = error.json()
        await send({
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="feature store"'),
            ],
        })
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value[:7].lower() != SCHEME:
                    return False
                return hmac.compare_digest(value[7:].strip(), self.expected)
        return False
