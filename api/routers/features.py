"""Feature retrieval by entity id: one id (GET) or many in one round trip (POST)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.decoding import assemble
from api.errors import EntityNotFound, InvalidRequest, PayloadTooLarge
from api.responses import json_response
from api.schemas import (
    BATCH_EXAMPLE,
    FEATURES_EXAMPLE,
    REDIS_DOWN,
    BatchRequest,
    BatchResponse,
    FeaturesResponse,
    error_example,
)
from api.store import OnlineStore

router = APIRouter(tags=["features"])

UNKNOWN_ENTITY = error_example(
    "Unknown entity, unknown feature name, or an empty selection.",
    "unknown_feature",
    "entity 'user' has no feature 'watch_count'; valid features: is_active_7d, last_genre, watch_count_30d",
    unknown_features=["watch_count"],
    valid_features=["is_active_7d", "last_genre", "watch_count_30d"],
)
INVALID_ID = error_example(
    "A malformed id: int64 keys take an optional minus and digits; string keys 1-128 characters "
    "from A-Z, a-z, 0-9, `_`, `.`, `-`.",
    "invalid_id",
    "invalid id '1:2' for entity 'user': expected an int64 id: an optional minus and at most 19 digits",
    invalid_ids=[
        {"index": 0, "id": "1:2", "reason": "expected an int64 id: an optional minus and at most 19 digits"}
    ],
)

EntityParam = Annotated[str, Path(description="The entity type, e.g. `user`.", examples=["user"])]


def _store(request: Request) -> OnlineStore:
    return request.app.state.store


def _selection(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


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
    request: Request,
    entity: EntityParam,
    entity_id: Annotated[
        str, Path(alias="id", description="The entity's id (its join key value).", examples=["42"])
    ],
    features: Annotated[
        str | None,
        Query(
            description="Comma-separated feature names; every feature of the entity when omitted.",
            examples=["watch_count_30d,user_segment"],
        ),
    ] = None,
) -> Response:
    read = await _store(request).read(entity, (entity_id,), _selection(features))
    fields = read.hashes[0]
    canonical_id = read.ids[0]
    if not fields:
        raise EntityNotFound(entity, canonical_id)
    values, views = assemble(read.selection, read.snapshot, fields, read.now, read.keys[0])
    return json_response({"entity": entity, "id": canonical_id, "features": values, "views": views})


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
            "content": {"application/json": {"schema": BatchRequest.model_json_schema()}},
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
async def get_features_batch(request: Request, entity: EntityParam) -> Response:
    settings = request.app.state.settings
    ids, names = _parse_batch(await _read_body(request, settings.max_body_bytes), settings.max_batch_ids)
    read = await _store(request).read(entity, ids, names)
    results = []
    for entity_id, key, fields in zip(read.ids, read.keys, read.hashes, strict=True):
        values, views = assemble(read.selection, read.snapshot, fields, read.now, key)
        results.append({"id": entity_id, "found": bool(fields), "features": values, "views": views})
    return json_response({"entity": entity, "results": results})


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = PayloadTooLarge(f"the request body is over {limit} bytes: split the request", max_bytes=limit)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_batch(body: bytes, max_ids: int) -> tuple[list[Any], list[str] | None]:
    """`(ids, feature names)` from the JSON body, checked by hand: a big batch costs no model validation."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise InvalidRequest('the body must be a JSON object: {"ids": [...], "features": [...]}')
    unexpected = sorted(set(data) - {"ids", "features"})
    if unexpected:
        raise InvalidRequest(
            f"unexpected field(s) {', '.join(unexpected)}: the body takes `ids` and `features`"
        )
    ids = data.get("ids")
    if not isinstance(ids, list):
        raise InvalidRequest("`ids` is required: a JSON array of entity ids")
    if len(ids) > max_ids:
        raise PayloadTooLarge(
            f"{len(ids)} ids in one request; the cap is {max_ids}: split the request", max_ids=max_ids
        )
    names = data.get("features")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise InvalidRequest("`features` must be a JSON array of feature names, or left out")
    return ids, names
