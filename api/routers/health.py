"""Liveness (the process answers) and readiness (Redis reachable and a registry published)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.core.responses import json_response
from api.deps import StoreDep
from api.routers.schemas import HealthResponse, ReadyResponse, error_example

router = APIRouter(tags=["health"])

READY_EXAMPLE = {"status": "ready", "redis": True, "registry": True}

HEALTHY = json_response({"status": "ok"}).body


@router.get(
    "/health",
    summary="Liveness",
    description="Always 200 while the process serves requests; touches nothing else, Redis included.",
    response_class=Response,
    responses={
        200: {"model": HealthResponse, "content": {"application/json": {"example": {"status": "ok"}}}}
    },
)
async def health() -> Response:
    return Response(HEALTHY, media_type="application/json")


@router.get(
    "/ready",
    summary="Readiness",
    description=(
        "200 when Redis answers and a feature registry is published in it; otherwise 503 saying which is "
        "missing (`redis`, `registry`), so a load balancer sends no traffic to an instance that would fail."
    ),
    response_class=Response,
    responses={
        200: {
            "model": ReadyResponse,
            "content": {"application/json": {"example": READY_EXAMPLE}},
        },
        503: error_example(
            "Redis is unreachable, or no registry is published yet.",
            "not_ready",
            "no feature registry in Redis: run `python -m sync`",
            redis=True,
            registry=False,
        ),
    },
)
async def ready(store: StoreDep) -> Response:
    redis_ok, registry_ok, reason = await store.readiness()
    if reason is not None:
        payload = {"error": "not_ready", "detail": reason, "redis": redis_ok, "registry": registry_ok}
        return json_response(payload, 503)
    return json_response({"status": "ready", "redis": True, "registry": True})
