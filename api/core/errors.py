"""Every error the API answers, in one JSON shape: `{"error": code, "detail": message, ...}`.

`error` is a stable machine-readable code, `detail` a sentence saying what went
wrong and what to do; some errors add fields (the valid names, the bad ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.core.responses import JSON_MEDIA_TYPE, json_response
from api.middleware import request_ids

logger = logging.getLogger("api")

NO_REGISTRY_DETAIL = "no feature registry in Redis: run `python -m sync`"


class ApiError(Exception):
    """An answer other than 200, rendered by `install_error_handlers`."""

    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}

    def json(self) -> bytes:
        return orjson.dumps(self.payload())


class UnknownEntity(ApiError):
    status_code = 400
    code = "unknown_entity"

    def __init__(self, entity: str, valid: Iterable[str]) -> None:
        names = sorted(valid)
        super().__init__(
            f"unknown entity {entity!r}; valid entities: {', '.join(names) or 'none published'}",
            valid_entities=names,
        )


class UnknownFeatures(ApiError):
    status_code = 400
    code = "unknown_feature"

    def __init__(self, entity: str, unknown: list[str], valid: Iterable[str]) -> None:
        names = sorted(valid)
        listed = ", ".join(repr(name) for name in unknown)
        super().__init__(
            f"entity {entity!r} has no feature {listed}; valid features: {', '.join(names)}",
            unknown_features=unknown,
            valid_features=names,
        )


class UnknownFeatureRefs(ApiError):
    status_code = 400
    code = "unknown_feature"

    def __init__(self, unknown: list[str], valid: Iterable[str]) -> None:
        names = sorted(valid)
        listed = ", ".join(repr(name) for name in unknown[:20])
        super().__init__(
            f"no feature {listed} in the registry; valid features: {', '.join(names)}",
            unknown_features=unknown[:20],
            valid_features=names,
        )


class UnsupportedRequest(ApiError):
    status_code = 400
    code = "unsupported_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class InvalidSelection(ApiError):
    status_code = 400
    code = "invalid_feature_selection"


class UnsupportedEntity(ApiError):
    status_code = 400
    code = "unsupported_entity"


class InvalidIds(ApiError):
    status_code = 422
    code = "invalid_id"

    def __init__(self, entity: str, problems: list[dict[str, Any]]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"invalid id {first['id']!r} for entity {entity!r}: {first['reason']}{more}", invalid_ids=problems
        )


class InvalidRequest(ApiError):
    status_code = 422
    code = "invalid_request"


class EntityNotFound(ApiError):
    status_code = 404
    code = "not_found"

    def __init__(self, entity: str, entity_id: int | str) -> None:
        super().__init__(
            f"no {entity} with id {entity_id!r} in the online store", entity=entity, id=entity_id
        )


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class RedisUnreachable(ApiError):
    status_code = 503
    code = "redis_unavailable"


class NoRegistry(ApiError):
    status_code = 503
    code = "no_registry"

    def __init__(self) -> None:
        super().__init__(NO_REGISTRY_DETAIL)


class InvalidRegistry(ApiError):
    status_code = 503
    code = "invalid_registry"


class CorruptValue(ApiError):
    """A value in Redis that its dtype cannot read: the online store needs a full sync."""

    status_code = 500
    code = "corrupt_value"


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def log_server_error(error: ApiError, method: str, path: str) -> None:
    """5xx answers are the operator's business (Redis down, bad data); 4xx are the client's."""
    if error.status_code >= 500:
        logger.warning(
            "%s %s -> %d %s (request %s)", method, path, error.status_code, error.detail, request_ids.current.get()
        )


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    log_server_error(error, request.method, request.url.path)
    return Response(error.json(), error.status_code, media_type=JSON_MEDIA_TYPE)


async def _validation_error(request: Request, error: Exception) -> Response:
    """FastAPI's own 422s, made concise: one line per problem, in the common shape."""
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": ".".join(str(part) for part in item.get("loc", ())), "message": item.get("msg", "")}
        for item in error.errors()
    ]
    detail = "; ".join(f"{p['location']}: {p['message']}" for p in problems) or "invalid request"
    return json_response({"error": InvalidRequest.code, "detail": detail, "problems": problems}, 422)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
    detail = error.detail
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no endpoint at {request.url.path}; see /docs"
    return json_response({"error": code, "detail": detail}, error.status_code, headers=error.headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    logger.exception(
        "unexpected error answering %s %s (request %s)", request.method, request.url.path, request_ids.current.get()
    )
    return json_response({"error": "internal_error", "detail": "unexpected error; see the API's log"}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
