"""The registry as documents: the whole published one (GET /registry) and a catalog an agent can read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.core.errors import UnknownEntity
from api.reader.served_registry import ServedRegistry
from feature_store.online.text import format_timestamp
from feature_store.registry.durations import format_duration


def registry_document(served: ServedRegistry, now: datetime) -> dict[str, Any]:
    """The registry as published, with each view's sync report and its staleness judged at `now`."""
    views = {
        name: {**spec, "sync": {**served.reports[name].published, "stale": served.is_stale(name, now)}}
        for name, spec in served.published["views"].items()
    }
    return {**served.published, "version": served.version, "views": views}


def catalog_document(served: ServedRegistry, now: datetime, entity: str | None = None) -> dict[str, Any]:
    """Entities with their views and features: descriptions, owners, freshness, ttl and sync state.

    Every entity, or one (UnknownEntity naming the valid ones when it is not published).
    """
    registry = served.registry
    if entity is not None and not registry.has_entity(entity):
        raise UnknownEntity(entity, served.entity_names)
    entities: dict[str, Any] = {}
    for spec in registry.entities:
        if entity is not None and spec.name != entity:
            continue
        views = []
        for view in registry.views_of(spec.name):
            last_sync = served.last_sync_at(view.name)
            views.append({
                "name": view.name,
                "description": view.description,
                "owner": view.owner,
                "freshness": format_duration(view.freshness),
                "ttl": format_duration(view.ttl) if view.ttl else None,
                "last_sync_at": format_timestamp(last_sync) if last_sync else None,
                "stale": served.is_stale(view.name, now),
                "features": [
                    {"name": feature.name, "dtype": feature.dtype, "description": feature.description}
                    for feature in view.features
                ],
            })
        entities[spec.name] = {"description": spec.description, "join_keys": list(spec.join_keys), "views": views}
    return {"version": served.version, "entities": entities}
