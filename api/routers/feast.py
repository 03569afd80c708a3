"""Feast compatibility: `POST /get-online-features` takes and answers Feast's feature-server shapes.

This route documents the endpoint and serves it when the fast path is off;
normally `api.middleware.fast_path` answers the same requests with the same function.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.answers.entities import read_body
from api.answers.feast import feast_answer
from api.core.responses import JSON_MEDIA_TYPE
from api.deps import SettingsDep, StoreDep
from api.routers.schemas import (
    FEAST_EXAMPLE,
    FEAST_REQUEST_EXAMPLE,
    INVALID_ID,
    REDIS_DOWN,
    FeastRequest,
    FeastResponse,
    error_example,
)

router = APIRouter(tags=["feast"])


@router.post(
    "/get-online-features",
    summary="Online features in Feast's request and response shapes",
    description=(
        "For clients of Feast's feature server: the same request (`features` as `view:feature`, `entities` as "
        "one join key and its ids, optional `full_feature_names`) and the same response: "
        "`metadata.feature_names` (the join key, then the features in the order asked) and `results`, one "
        "column per name with `values`, `statuses` and `event_timestamps` per id. Statuses are Feast's: "
        "PRESENT, NULL_VALUE, NOT_FOUND (the view has no row for the id), OUTSIDE_MAX_AGE (the row is older "
        "than the view's ttl: served as null). `views` is added, which Feast clients ignore: each view's status "
        "(fresh, stale, expired, missing) and event timestamp per id, so a late sync is visible too. One "
        "entity per request; `feature_service` and `request_context` are refused (neither exists here)."
    ),
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": FeastRequest.model_json_schema(), "example": FEAST_REQUEST_EXAMPLE}
            },
        }
    },
    responses={
        200: {"model": FeastResponse, "content": {"application/json": {"example": FEAST_EXAMPLE}}},
        400: error_example(
            "A feature reference the registry does not have, or a request this store does not support.",
            "unknown_feature",
            "no feature 'user_watch_stats:watch_count' in the registry; valid features: ...",
            unknown_features=["user_watch_stats:watch_count"],
        ),
        413: error_example(
            "More ids than the batch cap, or a body over API_MAX_BODY_BYTES.", "payload_too_large",
            "1500 ids in one request; the cap is 1000: split the request", max_ids=1000,
        ),
        422: INVALID_ID,
        503: REDIS_DOWN,
    },
)
async def get_online_features(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
    answer = await feast_answer(store, body, settings.max_batch_ids)
    return Response(answer, media_type=JSON_MEDIA_TYPE)
