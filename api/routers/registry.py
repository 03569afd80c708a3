"""The feature registry as the sync published it, with each view's sync state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from api.answers.registry import registry_document
from api.core.responses import json_response
from api.deps import StoreDep
from api.routers.schemas import REDIS_DOWN, RegistryResponse

router = APIRouter(tags=["registry"])

REGISTRY_EXAMPLE: dict[str, Any] = {
    "version": "7",
    "project": "feature_store",
    "format": 1,
    "entities": {"user": {"join_keys": ["user_id"], "dtype": "int64", "description": "A subscriber."}},
    "views": {
        "user_watch_stats": {
            "entity": "user",
            "timestamp": "event_timestamp",
            "created_timestamp": None,
            "freshness": "1h",
            "ttl": "90d",
            "owner": "growth",
            "description": "Trailing 30-day viewing activity per subscriber.",
            "location": "/srv/feature_store/data/features/user_watch_stats.parquet",
            "checksum": "3f2a...",
            "tags": ["hourly"],
            "features": [
                {
                    "name": "watch_count_30d",
                    "dtype": "int64",
                    "description": "Titles watched in the 30 days up to event_timestamp.",
                }
            ],
            "sync": {
                "last_sync_at": "2026-11-27T11:58:02Z",
                "rows": "5000",
                "seconds": "0.41",
                "checksum": "3f2a...",
                "as_of": "2026-11-27T11:58:00Z",
                "stale": False,
            },
        }
    },
}


@router.get(
    "/registry",
    summary="Entities, feature views and features",
    description=(
        "The registry the sync last published into Redis: entities with their join keys, every feature "
        "view with its freshness, ttl, owner and features (name, dtype, description), and each view's sync "
        "state (`sync`: last_sync_at, rows, seconds, checksum, as_of, as published; `stale` judged now). "
        'A view never synced has `sync: {"stale": true}` only.'
    ),
    response_class=Response,
    responses={
        200: {"model": RegistryResponse, "content": {"application/json": {"example": REGISTRY_EXAMPLE}}},
        503: REDIS_DOWN,
    },
)
async def get_registry(store: StoreDep) -> Response:
    served = await store.current_served_registry()
    return json_response(registry_document(served, store.clock()))
