"""Push ingestion: `POST /push/{view}` (ours) and `POST /push` (Feast's shape), into push-fed views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.answers.entities import read_body
from api.answers.push import feast_request, parse_body, push, rows_of_native
from api.core.responses import json_response
from api.deps import SettingsDep, StoreDep
from api.routers.schemas import REDIS_DOWN, error_example

router = APIRouter(tags=["push"])

ROWS_EXAMPLE = [{"user_id": 42, "event_timestamp": "2026-11-27T11:58:00Z", "last_genre": "comedy",
                 "last_title_id": 7}]
FEAST_PUSH_EXAMPLE = {"push_source_name": "user_last_genre", "to": "online_and_offline",
                      "df": {"user_id": [42], "event_timestamp": ["2026-11-27T11:58:00Z"], "last_genre": ["comedy"],
                             "last_title_id": [7]}}
ANSWER_EXAMPLE = {"view": "user_last_genre", "rows": 1, "kept": True,
                  "log_file": "00001795774680000000-4242-00000000-1a2b3c4d.json",
                  "online": {"applied": 1, "kept_newer": 0}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Every row is in the view's durable push log; `online` says how many replaced "
                         "the served value (the rest met a newer one, which was kept).",
          "content": {"application/json": {"example": ANSWER_EXAMPLE}}},
    404: error_example("The view does not take pushes, or there is no such view.", "not_push_fed",
                       "feature view 'user_segment' does not take pushes: ...", push_fed_views=["user_last_genre"]),
    413: error_example("A body over API_MAX_PUSH_BODY_BYTES.", "payload_too_large",
                       "the request body is over 67108864 bytes: split the request", max_bytes=67108864),
    422: error_example("At least one bad row: none was written.", "invalid_rows",
                       "1 of 2 rows pushed to 'user_last_genre' are invalid, so none was written (...)",
                       invalid_rows=[{"index": 1, "reason": "'last_title_id': \"seven\" is not an int64"}],
                       invalid_count=1),
    503: REDIS_DOWN,
}
ViewParam = Path(description="A push-fed feature view (its meta says `push: true`).", examples=["user_last_genre"])


def _body_doc(example: Any) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"example": example}}}}


@router.post(
    "/push/{view}",
    summary="Push rows into a push-fed feature view",
    description=(
        "Rows as a JSON list of objects, or as columns (`{column: [values]}`): each with the entity's join key, "
        "the view's event timestamp (ISO 8601, UTC; not after now) and every feature (null for a missing value). "
        "The view's created timestamp, when it declares one, is the time of ingestion unless sent. One bad row "
        "refuses the batch (422, every bad row's index and reason, nothing written). A 200 means the rows are in "
        "the view's durable push log, which its dbt model reads: the next build holds them, so training sees "
        "what was served. Each row replaces the served value only when its event timestamp is at or after the "
        "stored one: late and repeated pushes never put a value back."
    ),
    response_class=Response,
    openapi_extra=_body_doc(ROWS_EXAMPLE),
    responses=RESPONSES,
)
async def push_rows(request: Request, store: StoreDep, settings: SettingsDep,
                    view: str = ViewParam) -> Response:
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_push_body_bytes)
    return json_response(await push(store, view, rows_of_native(parse_body(body))))


@router.post(
    "/push",
    summary="Push rows in Feast's shape",
    description=(
        "Feast's feature-server push: `{\"push_source_name\": view, \"df\": {column: [values]}, \"to\": ...}`. "
        "`push_source_name` is the push-fed view. `to: offline` keeps the rows in the push log only; `online` "
        "and `online_and_offline` both keep them in the log and write them to Redis: here a served value is "
        "always kept offline, so training sees it. Otherwise as `POST /push/{view}`."
    ),
    response_class=Response,
    openapi_extra=_body_doc(FEAST_PUSH_EXAMPLE),
    responses=RESPONSES,
)
async def push_feast(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    body = await read_body(request.stream(), request.headers.get("content-length"), settings.max_push_body_bytes)
    view, columns, target = feast_request(parse_body(body))
    return json_response(await push(store, view, columns, online=target != "offline"))
