"""API test fixtures: a writer for the online layout, and an HTTP client on the app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.core.config import Settings
from api.reader.store import OnlineStore
from feature_store.online.text import format_timestamp
from tests.api.online import NOW, OnlineWriter

Client = httpx.AsyncClient
ClientFactory = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def online(redis_url: str) -> Iterator[OnlineWriter]:
    writer = OnlineWriter(redis_url)
    yield writer
    writer.close()


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (ASGITransport does not send lifespan events itself)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def store_of(client: Client) -> OnlineStore:
    """The app's online store behind an in-process client."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.store  # type: ignore[attr-defined]


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-routes"])
def make_client(request: pytest.FixtureRequest, redis_url: str) -> ClientFactory:
    """`async with make_client(as_of=..., max_batch_ids=...) as client:`; the clock defaults to NOW.

    Every test runs twice: through the fast path and through the FastAPI routes, which must agree.
    """

    def factory(as_of: datetime | None = NOW, **overrides: Any) -> AbstractAsyncContextManager[Client]:
        pinned = format_timestamp(as_of) if as_of else None
        # A longer Redis timeout than the served default (1 s): on a loaded test machine a healthy
        # Redis can answer late, and a test of something else must not turn into a 503.
        settings = {"fast_path": request.param, "redis_timeout_seconds": 5.0, **overrides}
        return serve(Settings(redis_url=redis_url, as_of=pinned, **settings))

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as api_client:
        yield api_client
