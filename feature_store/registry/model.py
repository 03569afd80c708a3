"""The feature registry: frozen dataclasses, and their JSON as published into Redis.

This is all a reader of the online store needs (the API imports nothing else of
the registry); building it from dbt's manifest and checking the contract is
`manifest`'s job, which only the sync runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from feature_store.registry.durations import format_duration, parse_duration

REGISTRY_FORMAT = 1
ENTITY_KEY_DTYPES = ("int64", "string")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Entity:
    """What features describe (a user); its join keys in their declared order.

    `context_template` renders the entity's features as prompt text for LLM
    applications (`User context: segment={user_segment}, ...`); empty when none is declared.
    `context_stale` and `context_unknown` say how a stale view's value and an unknown value read
    (feature_store.registry.templates' defaults when empty).
    """

    name: str
    join_keys: tuple[str, ...]
    dtype: str
    description: str = ""
    context_template: str = ""
    context_stale: str = ""
    context_unknown: str = ""

    @property
    def join_key(self) -> str:
        """The single join key; composite entities (several keys) are not served yet."""
        return self.join_keys[0]


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str
    view: str
    description: str = ""


REFERENCE_KINDS = ("model", "sync")
SYNC_REFERENCES = ("previous", "baseline")
DEFAULT_DRIFT_THRESHOLD = 0.25  # PSI at or above: a significant shift (the usual rule of thumb)
DEFAULT_NULL_RATE_THRESHOLD = 0.1


@dataclass(frozen=True)
class Monitoring:
    """What a view's statistics are compared with, and when the comparison alerts (its YAML `monitor:`).

    The reference is a training set model (`kind` "model", `name` the dbt model, `location` its Parquet)
    or an earlier sync (`kind` "sync", `name` "previous" or "baseline": the first sync kept since the
    reference was set).
    """

    reference_kind: str = "sync"
    reference_name: str = "previous"
    reference_location: str = ""
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD
    null_rate_threshold: float = DEFAULT_NULL_RATE_THRESHOLD

    @property
    def reference(self) -> str:
        """The reference as one word, e.g. `model:recommender_training_set`, `sync:previous`."""
        return f"{self.reference_kind}:{self.reference_name}"


@dataclass(frozen=True)
class FeatureView:
    """One dbt model: rows of (entity key, event timestamp, features...) with full history."""

    name: str
    entity: str
    timestamp: str
    freshness: timedelta
    ttl: timedelta | None
    owner: str
    description: str
    location: str
    checksum: str
    features: tuple[Feature, ...]
    created_timestamp: str | None = None
    tags: tuple[str, ...] = ()
    monitoring: Monitoring = Monitoring()

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)


@dataclass(frozen=True)
class Registry:
    entities: tuple[Entity, ...]
    views: tuple[FeatureView, ...]
    project: str = ""
    source: str = field(default="", compare=False)

    @cached_property
    def _entities(self) -> dict[str, Entity]:
        return {entity.name: entity for entity in self.entities}

    @cached_property
    def _views(self) -> dict[str, FeatureView]:
        return {view.name: view for view in self.views}

    @cached_property
    def _features_by_entity(self) -> dict[str, dict[str, Feature]]:
        result: dict[str, dict[str, Feature]] = {entity.name: {} for entity in self.entities}
        for view in self.views:
            for feature in view.features:
                result.setdefault(view.entity, {})[feature.name] = feature
        return result

    def entity(self, name: str) -> Entity:
        return self._entities[name]

    def view(self, name: str) -> FeatureView:
        return self._views[name]

    def has_entity(self, name: str) -> bool:
        return name in self._entities

    def has_view(self, name: str) -> bool:
        return name in self._views

    def features_of(self, entity: str) -> dict[str, Feature]:
        """Every feature of an entity by name, across its views."""
        return self._features_by_entity.get(entity, {})

    def views_of(self, entity: str) -> tuple[FeatureView, ...]:
        return tuple(view for view in self.views if view.entity == entity)

    def select(self, selector: str | None) -> tuple[FeatureView, ...]:
        """Views matching a view name or a dbt tag (all when selector is None)."""
        if not selector:
            return self.views
        chosen = tuple(v for v in self.views if v.name == selector or selector in v.tags)
        if not chosen:
            names = ", ".join(sorted(v.name for v in self.views))
            tags = ", ".join(sorted({t for v in self.views for t in v.tags})) or "none"
            raise KeyError(f"no feature view or tag named {selector!r}; views: {names}; tags: {tags}")
        return chosen

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REGISTRY_FORMAT,
            "project": self.project,
            "entities": {e.name: _entity_to_dict(e) for e in self.entities},
            "views": {v.name: _view_to_dict(v) for v in self.views},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Registry:
        entities = tuple(
            Entity(
                name,
                tuple(spec["join_keys"]),
                spec["dtype"],
                spec.get("description", ""),
                spec.get("context_template") or "",
                spec.get("context_stale") or "",
                spec.get("context_unknown") or "",
            )
            for name, spec in data["entities"].items()
        )
        views = tuple(_view_from_dict(name, spec) for name, spec in data["views"].items())
        return cls(entities=entities, views=views, project=data.get("project", ""), source="redis")

    @classmethod
    def from_json(cls, text: str | bytes) -> Registry:
        return cls.from_dict(json.loads(text))


def _entity_to_dict(entity: Entity) -> dict[str, Any]:
    spec: dict[str, Any] = {"join_keys": list(entity.join_keys), "dtype": entity.dtype,
                            "description": entity.description}
    if entity.context_template:  # only when declared, so registries published without one stay as they were
        spec["context_template"] = entity.context_template
    for key in ("context_stale", "context_unknown"):
        if getattr(entity, key):
            spec[key] = getattr(entity, key)
    return spec


def _view_to_dict(view: FeatureView) -> dict[str, Any]:
    return {
        "entity": view.entity,
        "timestamp": view.timestamp,
        "created_timestamp": view.created_timestamp,
        "freshness": format_duration(view.freshness),
        "ttl": format_duration(view.ttl) if view.ttl else None,
        "owner": view.owner,
        "description": view.description,
        "location": view.location,
        "checksum": view.checksum,
        "tags": list(view.tags),
        "features": [{"name": f.name, "dtype": f.dtype, "description": f.description} for f in view.features],
        "monitor": asdict(view.monitoring),
    }


def _view_from_dict(name: str, spec: dict[str, Any]) -> FeatureView:
    return FeatureView(
        name=name,
        entity=spec["entity"],
        timestamp=spec["timestamp"],
        created_timestamp=spec.get("created_timestamp"),
        freshness=parse_duration(spec["freshness"]),
        ttl=parse_duration(spec["ttl"]) if spec.get("ttl") else None,
        owner=spec.get("owner", ""),
        description=spec.get("description", ""),
        location=spec.get("location", ""),
        checksum=spec.get("checksum", ""),
        tags=tuple(spec.get("tags", ())),
        features=tuple(
            Feature(fspec["name"], fspec["dtype"], name, fspec.get("description", ""))
            for fspec in spec["features"]
        ),
        monitoring=Monitoring(**spec["monitor"]) if spec.get("monitor") else Monitoring(),
    )


