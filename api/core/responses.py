"""JSON responses serialized with orjson, skipping FastAPI's response validation on hot paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"


def json_response(payload: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code, headers, media_type=JSON_MEDIA_TYPE)
