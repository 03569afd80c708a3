"""The FastAPI application: routers, error handlers, and a Redis pool (one per node on a cluster)
that lives with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api.core.config import Settings
from api.core.errors import ApiError, install_error_handlers
from api.mcp_server.http import McpEndpoint
from api.mcp_server.tools import build_server
from api.middleware.fast_path import FeatureFastPath
from api.middleware.observability import Observability
from api.middleware.request_ids import HEADER as REQUEST_ID_HEADER
from api.middleware.security import ApiKeyAuth
from api.reader.store import OnlineStore
from api.routers import catalog, context, feast, features, health, metrics, monitor, registry
from api.routers.docs import install_docs
from feature_store.online.client import redis_url as project_redis_url
from feature_store.online.reader.cluster_pipe import open_pipe

PROJECT_DIR = Path(__file__).resolve().parent.parent
logger = logging.getLogger("api")

DESCRIPTION = """
Online features by entity id, read from Redis where `python -m sync` writes the
latest row of every feature view. Values come decoded to their dtypes, with each
view's status judged at read time: `fresh`, `stale` (the view's last sync is older
than its freshness: served, flagged), `expired` (the row is older than the view's
ttl: served as null) or `missing` (no row for the entity).

`GET /context/{entity}/{id}` renders the features as prompt text for LLM
applications; `POST /get-online-features` speaks Feast's request and response shapes.
`/mcp` serves the same answers as tools over the Model Context Protocol (streamable HTTP).

Errors share one JSON shape: `{"error": code, "detail": message}`. With `API_KEY`
set, every endpoint but `/health` wants `Authorization: Bearer <key>`. Every
response carries an `X-Request-ID` (the caller's, when it sent a plain one).
"""


def resolve_redis_url(settings: Settings) -> str:
    """The configured URL, else the project's embedded redis-server (started when not running)."""
    return settings.redis_url or project_redis_url(PROJECT_DIR)


async def open_store(settings: Settings) -> OnlineStore:
    """The reader of the online store the settings name, its Redis pool open."""
    url = resolve_redis_url(settings)
    pipe = await open_pipe(url, settings.redis_max_connections, settings.redis_timeout_seconds,
                           settings.redis_cluster)
    return OnlineStore(pipe, url, settings.key_prefix, settings.clock())


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(settings)
        app.state.store = store
        try:
            await store.served_registry()  # warm the registry cache; a missing one is reported per request
        except ApiError as error:
            logger.warning("starting without a feature registry: %s", error.detail)
        try:
            async with mcp.running():
                yield
        finally:
            await store.close()

    app = FastAPI(
        title="Feature store API",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served from the installed package, not a CDN (api.routers.docs)
        redoc_url=None,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    # Pure ASGI middleware only (see api.middleware.observability); the last added runs first:
    # Observability -> CORS -> ApiKeyAuth -> FeatureFastPath -> FastAPI's routes.
    if settings.fast_path:
        app.add_middleware(FeatureFastPath)
    if settings.api_key:
        app.add_middleware(ApiKeyAuth, api_key=settings.api_key)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", REQUEST_ID_HEADER.decode()],
            expose_headers=[REQUEST_ID_HEADER.decode()],
        )
    app.add_middleware(Observability, access_log=settings.access_log)
    install_error_handlers(app)
    for module in (features, context, feast, registry, health, metrics, monitor, catalog):
        app.include_router(module.router)
    install_docs(app)
    mcp = McpEndpoint(build_server(lambda: app.state.store))
    mcp.install(app)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn workers call (`api.app:app_from_env`, factory=True)."""
    return create_app(Settings.from_env())
