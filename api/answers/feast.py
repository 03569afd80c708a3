"""`POST /get-online-features` in Feast's shapes, so a Feast feature-server client switches without changes.

Request: `{"features": ["view:feature", ...], "entities": {"user_id": [1, 2]}, "full_feature_names": false}`.
Response (Feast's GetOnlineFeaturesResponse as JSON, one column per name):
`{"metadata": {"feature_names": ["user_id", "f", ...]}, "results": [{"values": [...],
"statuses": [...], "event_timestamps": [...]}, ...]}`, the join key first, then the
features in the order asked. Feast's per-value statuses: PRESENT, NULL_VALUE,
NOT_FOUND (the view has no row for the entity) and OUTSIDE_MAX_AGE (the row is
older than the view's ttl, served as null). Feast has no word for a late sync, so
the response adds `views`: each view's status (fresh, stale, expired, missing) and
event timestamp per entity, in the same columnar form; Feast clients ignore it.

One entity per request (the views' shared join key); feature services and
on-demand request context do not exist here and are refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from api.answers.decoding import answers
from api.answers.entities import check_batch_size, parse_json_object
from api.core.errors import InvalidRequest, UnknownFeatureRefs, UnsupportedRequest
from api.reader.served_registry import ServedRegistry
from api.reader.store import OnlineStore

EPOCH_TEXT = "1970-01-01T00:00:00Z"  # Feast's event timestamp for a key column or an absent value
SHAPE = '{"features": ["view:feature", ...], "entities": {"<join key>": [ids...]}}'
# Feast's SDK (its `remote` online store) also sends `include_feature_view_version_metadata`: views have no
# versions here, so it is taken and answered without `feature_view_metadata`.
FIELDS = {"features", "entities", "full_feature_names", "feature_service", "request_context",
          "include_feature_view_version_metadata"}


@dataclass(frozen=True)
class FeastRequest:
    refs: list[tuple[str, str]]  # (view, feature), duplicates removed, in the order asked
    join_key: str
    ids: list[Any]
    full_feature_names: bool


@dataclass(frozen=True)
class Resolved:
    entity: str
    feature_names: list[str]


def parse_request(body: bytes, max_ids: int) -> FeastRequest:
    data = parse_json_object(body, SHAPE)
    unexpected = sorted(set(data) - FIELDS)
    if unexpected:
        raise InvalidRequest(f"unexpected field(s) {', '.join(unexpected)}: the body is {SHAPE}")
    if data.get("feature_service") is not None:
        raise UnsupportedRequest(
            "feature services do not exist in this feature store: list the features as `view:feature` in `features`"
        )
    if data.get("request_context"):
        raise UnsupportedRequest("on-demand feature views do not exist here: leave `request_context` out")
    features = data.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(ref, str) for ref in features):
        raise InvalidRequest("`features` is required: a non-empty JSON array of `view:feature` names")
    refs = []
    for ref in dict.fromkeys(features):
        view, sep, feature = ref.partition(":")
        if not sep or not view or not feature:
            raise InvalidRequest(f"feature {ref!r} is not `view:feature` (e.g. `user_watch_stats:watch_count_30d`)")
        refs.append((view, feature))
    entities = data.get("entities")
    if not isinstance(entities, dict) or len(entities) != 1:
        raise InvalidRequest('`entities` must hold exactly one join key and its ids: {"user_id": [1, 2]}')
    ((join_key, ids),) = entities.items()
    if not isinstance(ids, list):
        raise InvalidRequest(f"`entities.{join_key}` must be a JSON array of ids")
    check_batch_size(len(ids), max_ids)
    full = data.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise InvalidRequest("`full_feature_names` must be true or false")
    if not isinstance(data.get("include_feature_view_version_metadata", False), bool):
        raise InvalidRequest("`include_feature_view_version_metadata` must be true or false")
    return FeastRequest(refs, join_key, ids, full)


def resolve(served: ServedRegistry, request: FeastRequest) -> Resolved:
    """The entity and feature names the refs name; 400 for an unknown view or feature, 422 for the wrong key."""
    registry = served.registry
    unknown = [
        f"{view}:{feature}" for view, feature in request.refs
        if not registry.has_view(view) or feature not in registry.view(view).feature_names
    ]
    if unknown:
        valid = [f"{view.name}:{feature}" for view in registry.views for feature in view.feature_names]
        raise UnknownFeatureRefs(unknown, valid)
    entities = {registry.view(view).entity for view, _ in request.refs}
    if len(entities) > 1:
        raise UnsupportedRequest(
            f"the features belong to several entities ({', '.join(sorted(entities))}): ask for one entity's "
            "features per request"
        )
    (entity,) = entities
    join_keys = registry.entity(entity).join_keys
    if request.join_key not in join_keys:
        raise InvalidRequest(
            f"`entities` names {request.join_key!r}, but the features' entity {entity!r} is keyed by "
            f"{', '.join(join_keys)}"
        )
    return Resolved(entity, [feature for _, feature in request.refs])


async def feast_answer(store: OnlineStore, body: bytes, max_ids: int) -> bytes:
    request = parse_request(body, max_ids)
    try:
        resolved = resolve(await store.served_registry(), request)
    except (UnknownFeatureRefs, InvalidRequest, UnsupportedRequest):
        resolved = resolve(await store.current_served_registry(), request)  # perhaps just published: check first
    read = await store.read(resolved.entity, request.ids, resolved.feature_names)
    resolve(read.served, request)  # the read may have picked up a newer registry: the refs must still hold
    count = len(read.ids)
    names = [request.join_key]
    results: list[dict[str, Any]] = [
        {"values": read.ids, "statuses": ["PRESENT"] * count, "event_timestamps": [EPOCH_TEXT] * count}
    ]
    columns: list[tuple[str, str, list[Any], list[str], list[str]]] = []
    for view, feature in request.refs:
        names.append(f"{view}__{feature}" if request.full_feature_names else feature)
        column: tuple[str, str, list[Any], list[str], list[str]] = (view, feature, [], [], [])
        columns.append(column)
        results.append({"values": column[2], "statuses": column[3], "event_timestamps": column[4]})
    view_columns: dict[str, dict[str, list[Any]]] = {
        view.name: {"statuses": [], "event_timestamps": []} for view in read.selection.views
    }
    for values, views in answers(read):
        for name, state in views.items():
            view_columns[name]["statuses"].append(state["status"])
            view_columns[name]["event_timestamps"].append(state["event_timestamp"])
        for view, feature, column_values, statuses, timestamps in columns:
            state = views[view]
            value = values[feature]
            column_values.append(value)
            timestamps.append(state["event_timestamp"] or EPOCH_TEXT)
            statuses.append(_status(state["status"], value))
    return orjson.dumps({"metadata": {"feature_names": names}, "results": results, "views": view_columns})


def _status(view_status: str, value: Any) -> str:
    if view_status == "missing":
        return "NOT_FOUND"
    if view_status == "expired":
        return "OUTSIDE_MAX_AGE"
    return "NULL_VALUE" if value is None else "PRESENT"
