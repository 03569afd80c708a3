"""Liveness, readiness, the error shape of unknown routes, and the OpenAPI docs."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from api.core.config import Settings
from tests.api.conftest import Client, serve
from tests.api.online import OnlineWriter

pytestmark = pytest.mark.anyio

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there


async def test_health_is_200_without_redis() -> None:
    async with serve(Settings(redis_url=UNREACHABLE, redis_timeout_seconds=0.2)) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_503_without_a_registry_and_200_with_one(online: OnlineWriter, client: Client) -> None:
    before = await client.get("/ready")
    online.publish()
    after = await client.get("/ready")

    assert before.status_code == 503
    assert before.json() == {
        "error": "not_ready",
        "detail": "no feature registry in Redis: run `python -m sync`",
        "redis": True,
        "registry": False,
    }
    assert after.status_code == 200
    assert after.json() == {"status": "ready", "redis": True, "registry": True}


async def test_ready_is_503_when_redis_is_unreachable() -> None:
    async with serve(Settings(redis_url=UNREACHABLE, redis_timeout_seconds=0.2)) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json()["redis"] is False
    assert response.json()["registry"] is False
    assert "127.0.0.1:9" in response.json()["detail"]


async def test_unknown_route_and_wrong_method_use_the_error_shape(client: Client) -> None:
    missing = await client.get("/nothing/here")
    wrong_method = await client.delete("/health")

    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


async def test_framework_validation_errors_are_concise_422s(redis_url: str) -> None:
    from api.app import create_app

    app: FastAPI = create_app(Settings(redis_url=redis_url))

    @app.get("/typed/{number}")
    async def typed(number: int) -> dict[str, int]:
        return {"number": number}

    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        response = await client.get("/typed/abc")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["detail"].startswith("path.number: ")
    assert body["problems"][0]["location"] == "path.number"


async def test_openapi_documents_every_endpoint_with_examples(client: Client) -> None:
    spec = (await client.get("/openapi.json")).json()
    docs = await client.get("/docs")

    assert docs.status_code == 200
    expected = {
        ("/features/{entity}/{id}", "get"),
        ("/features/{entity}", "post"),
        ("/registry", "get"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/context/{entity}/{id}", "get"),
        ("/context/{entity}", "post"),
        ("/get-online-features", "post"),
        ("/metrics", "get"),
    }
    documented = {(path, method) for path, methods in spec["paths"].items() for method in methods}
    assert expected <= documented
    for path, method in expected:
        operation = spec["paths"][path][method]
        assert operation["summary"] and operation["description"], (path, method)
        content = operation["responses"]["200"]["content"]
        assert "example" in (content.get("application/json") or content["text/plain"]), (path, method)
    for path in ("/context/{entity}", "/get-online-features"):
        assert {"200", "413", "422", "503"} <= set(spec["paths"][path]["post"]["responses"]), path
    single = spec["paths"]["/features/{entity}/{id}"]["get"]["responses"]
    assert {"200", "400", "404", "422", "503"} <= set(single)
    batch = spec["paths"]["/features/{entity}"]["post"]
    assert {"200", "400", "413", "422", "503"} <= set(batch["responses"])
    assert "ids" in batch["requestBody"]["content"]["application/json"]["schema"]["properties"]
