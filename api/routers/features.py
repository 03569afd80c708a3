"""Feature retrieval by entity id: one id (GET) or many in one round trip (POST).

These routes document the endpoints and serve them when the fast path is off;
normally `api.middleware.fast_path` answers the same requests with the same functions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.answers.entities import batch_answer, features_answer, read_body
from api.core.responses import JSON_MEDIA_TYPE
from api.deps import EntityIdParam, EntityParam, SettingsDep, StoreDep
from api.routers.schemas import (
    BATCH_EXAMPLE,
    FEATURES_EXAMPLE,
    INVALID_ID,
    REDIS_DOWN,
    UNKNOWN_ENTITY,
    BatchRequest,
    BatchResponse,
    FeaturesResponse,
    error_example,
)

router = APIRouter(tags=["features"])

@router.get(
    "/features/{entity}/{id}",
    summary="Features of one entity",
    description=(
        "The online features of one entity, decoded to their dtypes (timestamps as ISO 8601 UTC strings, "
        "lists as JSON arrays), with each view's status judged at read time. Every requested feature is "
        "present: `null` when the value is null, its view has no row for the entity (`missing`), or its "
        "row is older than the view's ttl (`expired`). A `stale` view (its last sync is older than its "
        "freshness) is served, flagged. An entity whose views are all expired is still found; an id the "
        "online store has never seen is a 404."
    ),
    response_class=Response,
    responses={
        200: {"model": FeaturesResponse, "content": {"application/json": {"example": FEATURES_EXAMPLE}}},
        400: UNKNOWN_ENTITY,
        404: error_example(
            "The online store has no hash for this id.",
            "not_found",
            "no user with id 99999 in the online store",
            entity="user",
            id=99999,
        ),
        422: INVALID_ID,
        503: REDIS_DOWN,
    },
)
async def get_features(
    store: StoreDep,
    entity: EntityParam,
    entity_id: EntityIdParam,
    features: Annotated[
        str | None,
        Query(
            description="Comma-separated feature names; every feature of the entity when omitted.",
            examples=["watch_count_30d,user_segment"],
        ),
    ] = None,
) -> Response:
    body = await features_answer(store, entity, entity_id, features)
    return Response(body, media_type=JSON_MEDIA_TYPE)


@router.post(
    "/features/{entity}",
    summary="Features of many entities in one request",
    description=(
        "The same answer as the GET, for every id in `ids`, in the order asked, read from Redis in one "
        "pipelined round trip. An id the online store has never seen is `found: false` (its features null, "
        "its views `missing`), not an error. Duplicate ids are answered each time. At most the batch cap "
        "(API_MAX_BATCH_IDS, default 1000) ids per request: more is a 413."
    ),
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": BatchRequest.model_json_schema(),
                    "example": {"ids": [42, 99999], "features": ["watch_count_30d", "user_segment"]},
                }
            },
        }
    },
    responses={
        200: {"model": BatchResponse, "content": {"application/json": {"example": BATCH_EXAMPLE}}},
        400: UNKNOWN_ENTITY,
        413: error_example(
            "More ids than the batch cap, or a body over API_MAX_BODY_BYTES.",
            "payload_too_large",
            "1500 ids in one request; the cap is 1000: split the request",
            max_ids=1000,
        ),
        422: INVALID_ID,
        503: REDIS_DOWN,
    },
)
async def get_features_batch(request: Request, store: StoreDep, settings: SettingsDep, entity: EntityParam) -> Response:
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
    answer = await batch_answer(store, entity, body, settings.max_batch_ids)
    return Response(answer, media_type=JSON_MEDIA_TYPE)
