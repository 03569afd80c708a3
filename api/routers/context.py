"""LLM context: an entity's features rendered as prompt text, one id (GET) or many in one round trip (POST).

These routes document the endpoints and serve them when the fast path is off;
normally `api.middleware.fast_path` answers the same requests with the same functions.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.answers.entities import context_answer, context_batch_answer, read_body
from api.core.responses import JSON_MEDIA_TYPE
from api.deps import EntityIdParam, EntityParam, SettingsDep, StoreDep
from api.routers.schemas import (
    CONTEXT_BATCH_EXAMPLE,
    CONTEXT_EXAMPLE,
    INVALID_ID,
    REDIS_DOWN,
    UNKNOWN_ENTITY,
    ContextBatchRequest,
    ContextBatchResponse,
    ContextResponse,
    error_example,
)

router = APIRouter(tags=["context"])

TEMPLATE_HELP = (
    "The text comes from the entity's `context_template`, declared once with the entity in dbt_project.yml "
    "(`+meta: entities: user: context_template: ...`), so it is versioned with the features and shown in the "
    "catalog; `{feature}` placeholders take the values, `{feature:.1f}` a format spec, `{feature.description}` "
    "the feature's dbt description, `{feature.age}` and `{feature.status}` how old its row is and its view's "
    "status. Booleans read yes/no, lists are joined with commas. The text says what it does not know and how "
    "old it is: a value that is null, missing or expired reads `unknown`, never `None` (`context_unknown:` "
    "beside the template words it otherwise, with `{feature}` and `{reason}`), and a stale view's value "
    "carries its age, `12 (as of 3 h ago)` (`context_stale:`, with `{value}` and `{age}`). `values` keeps every "
    "feature's value with its status, event timestamp and age. An entity without a template gets "
    "`<Entity> context: name=value, ...`."
)


@router.get(
    "/context/{entity}/{id}",
    summary="An entity's features as prompt text",
    description=(
        "The features of one entity rendered as text for an LLM prompt (`context`), with the structured "
        f"`features` and each view's status beside it, as GET /features answers them. {TEMPLATE_HELP} An id "
        "the online store has never seen is a 404."
    ),
    response_class=Response,
    responses={
        200: {"model": ContextResponse, "content": {"application/json": {"example": CONTEXT_EXAMPLE}}},
        400: UNKNOWN_ENTITY,
        404: error_example(
            "The online store has no hash for this id.", "not_found", "no user with id 99999 in the online store",
            entity="user", id=99999,
        ),
        422: INVALID_ID,
        503: REDIS_DOWN,
    },
)
async def get_context(
    store: StoreDep,
    entity: EntityParam,
    entity_id: EntityIdParam,
) -> Response:
    body = await context_answer(store, entity, entity_id)
    return Response(body, media_type=JSON_MEDIA_TYPE)


@router.post(
    "/context/{entity}",
    summary="Prompt text of many entities in one request",
    description=(
        "The context of every id in `ids`, in the order asked, read from Redis in one pipelined round trip. An "
        "id the online store has never seen is `found: false`, its context rendered with every value `unknown`. "
        f"At most the batch cap (API_MAX_BATCH_IDS, default 1000) ids per request: more is a 413. {TEMPLATE_HELP}"
    ),
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": ContextBatchRequest.model_json_schema(),
                    "example": {"ids": [42, 99999]},
                }
            },
        }
    },
    responses={
        200: {"model": ContextBatchResponse, "content": {"application/json": {"example": CONTEXT_BATCH_EXAMPLE}}},
        400: UNKNOWN_ENTITY,
        413: error_example(
            "More ids than the batch cap, or a body over API_MAX_BODY_BYTES.", "payload_too_large",
            "1500 ids in one request; the cap is 1000: split the request", max_ids=1000,
        ),
        422: INVALID_ID,
        503: REDIS_DOWN,
    },
)
async def post_context(request: Request, store: StoreDep, settings: SettingsDep, entity: EntityParam) -> Response:
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_body_bytes)
    answer = await context_batch_answer(store, entity, body, settings.max_batch_ids)
    return Response(answer, media_type=JSON_MEDIA_TYPE)
