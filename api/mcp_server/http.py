"""MCP over streamable HTTP at /mcp, inside the API's own app.

Stateless, with JSON answers: each POST is a whole exchange, so any worker of
`--workers N` can answer it (a stateful session would live in one process only).
The route sits behind the API's middleware, so the API key guards it like any
endpoint; the SDK's DNS-rebinding check is off for the same reason (the API may
listen on any interface and host name). Its session manager runs in the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

PATH = "/mcp"


class McpEndpoint:
    def __init__(self, server: MCPServer) -> None:
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )  # builds the session manager, which is what the route serves
        self.session_manager = server.session_manager

    def install(self, app: FastAPI) -> None:
        app.router.routes.append(Route(PATH, StreamableHTTPASGIApp(self.session_manager), include_in_schema=False))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.session_manager.run():
            yield
