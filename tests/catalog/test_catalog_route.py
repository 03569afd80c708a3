"""GET /catalog: the static docs page when built, a 404 saying how to build it when not."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from api.routers import catalog


def get(app: FastAPI, path: str) -> httpx.Response:
    """One request in-process, without the app's lifespan (the route needs no Redis)."""

    async def request() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.get(path)

    return anyio.run(request)


@pytest.fixture
def router_app() -> FastAPI:
    app = FastAPI()
    app.include_router(catalog.router)
    return app


def test_serves_the_built_catalog(router_app, tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "static_index.html"
    page.write_text("<html><body>watch_count_30d</body></html>")
    monkeypatch.setenv(catalog.CATALOG_ENV, str(page))
    response = get(router_app, "/catalog")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "watch_count_30d" in response.text


def test_missing_catalog_is_a_404_that_says_how_to_build_it(router_app, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(catalog.CATALOG_ENV, str(tmp_path / "nowhere.html"))
    response = get(router_app, "/catalog")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "catalog_not_built"
    assert "make docs" in body["detail"] and str(tmp_path / "nowhere.html") in body["detail"]


def test_default_path_is_the_projects_target_folder(monkeypatch) -> None:
    monkeypatch.delenv(catalog.CATALOG_ENV, raising=False)
    assert catalog.catalog_path() == catalog.PROJECT_DIR / "target" / "static_index.html"


def test_the_app_serves_the_catalog(tmp_path: Path, monkeypatch) -> None:
    from api.app import create_app
    from api.core.config import Settings

    page = tmp_path / "static_index.html"
    page.write_text("<html>catalog</html>")
    monkeypatch.setenv(catalog.CATALOG_ENV, str(page))
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert "/catalog" in app.openapi()["paths"]
    response = get(app, "/catalog")
    assert response.status_code == 200 and response.text == "<html>catalog</html>"
