"""Pydantic models for the OpenAPI docs only: hot paths build their JSON directly with orjson."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FEATURES_EXAMPLE: dict[str, Any] = {
    "entity": "user",
    "id": 42,
    "features": {
        "user_segment": "regular",
        "is_active_7d": True,
        "watch_count_30d": 12,
        "watch_minutes_30d": 614,
        "avg_minutes_per_title_30d": 51.166666666666664,
        "last_genre": None,
    },
    "views": {
        "user_segment": {"event_timestamp": "2026-11-27T00:00:00Z", "status": "fresh"},
        "user_watch_stats": {"event_timestamp": "2026-11-26T21:14:03Z", "status": "stale"},
        "user_last_genre": {"event_timestamp": "2026-10-02T19:40:11Z", "status": "expired"},
    },
}

BATCH_EXAMPLE: dict[str, Any] = {
    "entity": "user",
    "results": [
        {
            "id": 42,
            "found": True,
            "features": {"watch_count_30d": 12, "user_segment": "regular"},
            "views": {
                "user_watch_stats": {"event_timestamp": "2026-11-26T21:14:03Z", "status": "fresh"},
                "user_segment": {"event_timestamp": "2026-11-27T00:00:00Z", "status": "fresh"},
            },
        },
        {
            "id": 99999,
            "found": False,
            "features": {"watch_count_30d": None, "user_segment": None},
            "views": {
                "user_watch_stats": {"event_timestamp": None, "status": "missing"},
                "user_segment": {"event_timestamp": None, "status": "missing"},
            },
        },
    ],
}


class ViewStatus(BaseModel):
    """How one view's values for this entity were judged at read time."""

    event_timestamp: str | None = Field(
        description="Event time (UTC, ISO 8601) of the row the view's values came from; null when missing."
    )
    status: Literal["fresh", "stale", "expired", "missing"] = Field(
        description="fresh; stale (the view's last sync is older than its freshness: served, flagged); "
        "expired (the row is older than the view's ttl: its features are null); "
        "missing (no row for this entity: its features are null)."
    )


class FeaturesResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FEATURES_EXAMPLE]})

    entity: str
    id: int | str = Field(description="The id, canonical: an integer for int64 keys.")
    features: dict[str, Any] = Field(
        description="Every requested feature by name (all the entity's features when none were named); "
        "null when the value is null, its view has no row, or its row is expired."
    )
    views: dict[str, ViewStatus] = Field(description="Every view that holds a requested feature.")


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ids": [42, 99999], "features": ["watch_count_30d", "user_segment"]}]
        }
    )

    ids: list[int | str] = Field(description="Entity ids, answered in this order; at most the batch cap.")
    features: list[str] | None = Field(default=None, description="Feature names; every feature when omitted.")


class BatchResult(BaseModel):
    id: int | str
    found: bool = Field(description="False when the online store has no hash for this id.")
    features: dict[str, Any]
    views: dict[str, ViewStatus]


class BatchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BATCH_EXAMPLE]})

    entity: str
    results: list[BatchResult]


class ErrorResponse(BaseModel):
    """The one error shape; some errors add fields (valid names, the invalid ids)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="A stable code, e.g. unknown_entity, invalid_id, redis_unavailable.")
    detail: str = Field(description="What went wrong and what to do.")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(BaseModel):
    status: Literal["ready"]
    redis: bool
    registry: bool


class RegistryResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str | None = Field(description="The registry version the sync last published.")
    project: str
    entities: dict[str, Any]
    views: dict[str, Any] = Field(
        description="Each view as published (entity, freshness, ttl, owner, features with dtypes and "
        "descriptions), plus `sync`: its last sync state and whether it is stale now."
    )


def error_example(description: str, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A `responses=` entry for one error status, with a concrete example."""
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": {"error": code, "detail": detail, **extra}}},
    }


REDIS_DOWN = error_example(
    "Redis is unreachable or no registry is published yet.",
    "redis_unavailable",
    "Redis at redis://127.0.0.1:6379/0: connection failed (Connection refused); retry when it is back",
)


_VIEW_OF = {"user_segment": "user_segment", "is_active_7d": "user_segment", "last_genre": "user_last_genre"}
_AGES = {"user_segment": "12 h", "user_watch_stats": "14 h", "user_last_genre": "55 d"}
_VALUES_EXAMPLE: dict[str, Any] = {
    name: {
        "value": value,
        "status": FEATURES_EXAMPLE["views"][view]["status"],
        "event_timestamp": FEATURES_EXAMPLE["views"][view]["event_timestamp"],
        "age": _AGES[view],
        "view": view,
    }
    for name, value in FEATURES_EXAMPLE["features"].items()
    for view in [_VIEW_OF.get(name, "user_watch_stats")]
}

CONTEXT_EXAMPLE: dict[str, Any] = {
    "entity": "user",
    "id": 42,
    "context": "User context: segment=regular, active in the last 7 days: yes, watched 12 (as of 14 h ago) titles "
    "(614 (as of 14 h ago) minutes) in last 30 days, last genre watched: unknown.",
    "features": FEATURES_EXAMPLE["features"],
    "views": FEATURES_EXAMPLE["views"],
    "values": _VALUES_EXAMPLE,
}

CONTEXT_BATCH_EXAMPLE: dict[str, Any] = {
    "entity": "user",
    "results": [
        {"found": True, **{key: CONTEXT_EXAMPLE[key] for key in ("id", "context", "features", "views", "values")}},
        {
            "id": 99999,
            "found": False,
            "context": "User context: segment=unknown, active in the last 7 days: unknown, watched unknown titles "
            "(unknown minutes) in last 30 days, last genre watched: unknown.",
            "features": dict.fromkeys(FEATURES_EXAMPLE["features"]),
            "views": {key: {"event_timestamp": None, "status": "missing"} for key in FEATURES_EXAMPLE["views"]},
            "values": {
                name: {**state, "value": None, "status": "missing", "event_timestamp": None, "age": None}
                for name, state in _VALUES_EXAMPLE.items()
            },
        },
    ],
}


class FeatureValue(BaseModel):
    """One feature as the context text was rendered from it."""

    value: Any = Field(description="The value, decoded; null when null, missing or expired.")
    status: Literal["fresh", "stale", "expired", "missing"] = Field(description="Its view's status.")
    event_timestamp: str | None = Field(description="Event time of the row the value came from; null when missing.")
    age: str | None = Field(description="How old the row is at read time, as the text says it (`3 h`).")
    view: str = Field(description="The feature view that holds the feature.")


VALUES_FIELD = Field(description="Every feature with its value, status, event timestamp and age.")


class ContextResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CONTEXT_EXAMPLE]})

    entity: str
    id: int | str = Field(description="The id, canonical: an integer for int64 keys.")
    context: str = Field(
        description="The entity's context template rendered with its features: booleans as yes/no, lists joined "
        "with commas; a null, missing or expired value reads `unknown` (the entity's `context_unknown`), a stale "
        "view's value carries its age (`12 (as of 3 h ago)`, the entity's `context_stale`)."
    )
    features: dict[str, Any] = Field(description="Every feature of the entity, as GET /features answers them.")
    views: dict[str, ViewStatus] = Field(description="Every view of the entity, with its status.")
    values: dict[str, FeatureValue] = VALUES_FIELD


class ContextBatchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ids": [42, 99999]}]})

    ids: list[int | str] = Field(description="Entity ids, answered in this order; at most the batch cap.")


class ContextBatchResult(BaseModel):
    id: int | str = Field(description="The id, canonical: an integer for int64 keys.")
    found: bool = Field(description="False when the online store has no hash for this id (every value unknown).")
    context: str = Field(description="As GET /context answers it; every value `unknown` when not found.")
    features: dict[str, Any]
    views: dict[str, ViewStatus]
    values: dict[str, FeatureValue] = VALUES_FIELD


class ContextBatchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CONTEXT_BATCH_EXAMPLE]})

    entity: str
    results: list[ContextBatchResult]


FEAST_REQUEST_EXAMPLE: dict[str, Any] = {
    "features": ["user_watch_stats:watch_count_30d", "user_last_genre:last_genre"],
    "entities": {"user_id": [42, 99999]},
}

FEAST_EXAMPLE: dict[str, Any] = {
    "metadata": {"feature_names": ["user_id", "watch_count_30d", "last_genre"]},
    "results": [
        {
            "values": [42, 99999],
            "statuses": ["PRESENT", "PRESENT"],
            "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"],
        },
        {
            "values": [12, None],
            "statuses": ["PRESENT", "NOT_FOUND"],
            "event_timestamps": ["2026-11-26T21:14:03Z", "1970-01-01T00:00:00Z"],
        },
        {
            "values": [None, None],
            "statuses": ["OUTSIDE_MAX_AGE", "NOT_FOUND"],
            "event_timestamps": ["2026-10-02T19:40:11Z", "1970-01-01T00:00:00Z"],
        },
    ],
    "views": {
        "user_watch_stats": {"statuses": ["fresh", "missing"], "event_timestamps": ["2026-11-26T21:14:03Z", None]},
        "user_last_genre": {"statuses": ["expired", "missing"], "event_timestamps": ["2026-10-02T19:40:11Z", None]},
    },
}


class FeastRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FEAST_REQUEST_EXAMPLE]})

    features: list[str] = Field(description="Feature references, `view:feature` (the view is the dbt model).")
    entities: dict[str, list[int | str]] = Field(
        description="One join key and its ids, e.g. `{\"user_id\": [42, 43]}`; at most the batch cap."
    )
    full_feature_names: bool = Field(default=False, description="Name the columns `view__feature`.")


class FeastFeatureVector(BaseModel):
    values: list[Any]
    statuses: list[Literal["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]]
    event_timestamps: list[str]


class FeastResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FEAST_EXAMPLE]})

    metadata: dict[str, list[str]] = Field(description="`feature_names`: the join key, then the features asked.")
    results: list[FeastFeatureVector] = Field(description="One column per name in `feature_names`, one value per id.")
    views: dict[str, Any] = Field(
        description="Not in Feast's shape (its clients ignore it): each view's status (fresh, stale, expired, "
        "missing) and event timestamp per id."
    )


class UnauthorizedResponse(BaseModel):
    error: Literal["unauthorized"]
    detail: str


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
