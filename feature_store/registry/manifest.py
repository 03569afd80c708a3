"""The feature registry: frozen dataclasses built from dbt's manifest.json.

dbt is the single definition of every feature. A model is a feature view when
its `config.meta` names an `entity` (or inherits the `entities` declaration of
the features folder); a column is a feature when its meta carries a `dtype`.
The registry is also published into Redis as JSON (`to_dict`/`from_dict`), so
the API needs only Redis, not the dbt project on disk.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from feature_store.errors import DefinitionError, DefinitionErrors, ManifestNotFound
from feature_store.registry.dtypes import is_valid_dtype, list_element, valid_dtypes_text
from feature_store.registry.durations import format_duration, parse_duration

SNAPSHOT_FORMAT = 1
SUPPORTED_MANIFEST = "https://schemas.getdbt.com/dbt/manifest/v12.json"
ENTITY_KEY_DTYPES = ("int64", "string")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Entity:
    """What features describe (a user); its join keys in their declared order.

    `context_template` renders the entity's features as prompt text for LLM
    applications (`User context: segment={user_segment}, ...`); empty when none is declared.
    """

    name: str
    join_keys: tuple[str, ...]
    dtype: str
    description: str = ""
    context_template: str = ""

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
            "format": SNAPSHOT_FORMAT,
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
    if entity.context_template:  # only when declared, so snapshots without one stay as they were
        spec["context_template"] = entity.context_template
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
    )


# --- context templates ------------------------------------------------------------

TemplatePart = tuple[str, str | None, str]  # (literal text, feature name or None, format spec)


def parse_context_template(template: str) -> tuple[TemplatePart, ...]:
    """A context template as parts; ValueError naming the problem when it is malformed.

    Placeholders are `{feature}` or `{feature:spec}` (a Python format spec, e.g. `{avg:.1f}`);
    `{{` and `}}` are literal braces. Attribute access, indexing and conversions are refused,
    so a template can only ever name a feature's value.
    """
    parts: list[TemplatePart] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"{error} (write a literal brace as {{{{ or }}}})") from error
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if not NAME_PATTERN.match(name) or conversion is not None or "{" in (spec or ""):
            raise ValueError(f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}} is not a feature name (with an optional format spec)")
        parts.append((literal, name, spec or ""))
    return tuple(parts)


# A value of each dtype a format spec must accept; anything else is formatted as text.
_SPEC_SAMPLES: dict[str, Any] = {"int64": 1, "float64": 0.5}


def check_format_spec(dtype: str, spec: str) -> None:
    """ValueError when `spec` cannot format a value of `dtype` (numbers as numbers, the rest as text)."""
    if spec:
        format(_SPEC_SAMPLES.get(dtype, "text"), spec)


# --- building the registry from the manifest ---------------------------------------


def default_manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def load_registry(project_dir: Path, manifest_path: Path | None = None) -> Registry:
    """Read the manifest and build a validated registry, or raise with every problem found."""
    path = manifest_path or default_manifest_path(project_dir)
    if not path.is_file():
        raise ManifestNotFound(
            f"no dbt manifest at {path}: run `dbt build` (or `dbt parse`) in {project_dir} first"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ManifestNotFound(
            f"{path} is not valid JSON ({error}): run `dbt parse` to rewrite it"
        ) from error
    return registry_from_manifest(manifest, project_dir, source=str(path))


def registry_from_manifest(manifest: dict[str, Any], project_dir: Path, source: str = "") -> Registry:
    version = manifest.get("metadata", {}).get("dbt_schema_version")
    if version != SUPPORTED_MANIFEST:
        raise ManifestNotFound(
            f"manifest schema {version!r} is not supported (expected {SUPPORTED_MANIFEST}): "
            "use dbt-core 1.11 as pinned in requirements.txt"
        )
    project = manifest.get("metadata", {}).get("project_name", "")
    errors: list[DefinitionError] = []
    nodes = [
        node
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model" and _is_feature_view(node)
    ]
    nodes.sort(key=lambda node: node["name"])
    entities = _collect_entities(nodes, errors)
    views = [view for node in nodes if (view := _build_view(node, entities, project_dir, errors))]
    _check_unique_feature_names(views, errors)
    _check_context_templates(entities, views, errors)
    if errors:
        raise DefinitionErrors(errors)
    used = {view.entity for view in views}
    return Registry(
        entities=tuple(entities[name] for name in sorted(entities) if name in used),
        views=tuple(views),
        project=project,
        source=source,
    )


def _meta(node: dict[str, Any]) -> dict[str, Any]:
    return node.get("config", {}).get("meta") or node.get("meta") or {}


def _is_feature_view(node: dict[str, Any]) -> bool:
    meta = _meta(node)
    return "entity" in meta or "entities" in meta


def _collect_entities(nodes: list[dict[str, Any]], errors: list[DefinitionError]) -> dict[str, Entity]:
    entities: dict[str, Entity] = {}
    parsed: list[tuple[str, Any]] = []
    for node in nodes:
        for name, spec in (_meta(node).get("entities") or {}).items():
            if (name, spec) in parsed:
                continue  # dbt copies one declaration into every view: judge (and report) it once
            parsed.append((name, spec))
            entity = _parse_entity(node["name"], name, spec, errors)
            if entity is None:
                continue
            known = entities.get(name)
            if known is not None and known != entity:
                errors.append(DefinitionError(
                    node["name"], f"entity '{name}' is declared differently than for other views",
                    "declare each entity once, under `+meta: entities:` in dbt_project.yml",
                ))
            entities.setdefault(name, entity)
    return entities


def _parse_entity(model: str, name: str, spec: Any, errors: list[DefinitionError]) -> Entity | None:
    fix = "declare it as `entities: {user: {join_key: user_id, dtype: int64, description: ...}}`"
    if not NAME_PATTERN.match(str(name)):
        errors.append(DefinitionError(model, f"entity name {name!r} is not a lower-case identifier", fix))
        return None
    if not isinstance(spec, dict):
        errors.append(DefinitionError(model, f"entity '{name}' has no join key", fix))
        return None
    keys = spec.get("join_keys") or ([spec["join_key"]] if spec.get("join_key") else [])
    if not keys:
        errors.append(DefinitionError(model, f"entity '{name}' has no join_key", fix))
        return None
    dtype = spec.get("dtype", "string")
    if dtype not in ENTITY_KEY_DTYPES:
        errors.append(DefinitionError(
            model, f"entity '{name}' has key dtype {dtype!r}", f"use one of {', '.join(ENTITY_KEY_DTYPES)}"
        ))
        return None
    template = _context_template(model, name, spec.get("context_template"), errors)
    return Entity(name, tuple(str(k) for k in keys), dtype, str(spec.get("description", "")), template)


def _context_template(model: str, entity: str, template: Any, errors: list[DefinitionError]) -> str:
    """The declared template when well formed; else "" and an error (the entity and its views still
    build, so the one mistake is reported once, not as every view's unknown entity)."""
    fix = (f"write `context_template:` of entity '{entity}' in dbt_project.yml as text with "
           "`{feature}` placeholders, e.g. `User context: segment={user_segment}.`")
    if template is None or template == "":
        return ""
    if not isinstance(template, str):
        errors.append(DefinitionError(model, f"entity '{entity}' has a context_template that is not text", fix))
        return ""
    try:
        parse_context_template(template)
    except ValueError as error:
        errors.append(DefinitionError(model, f"entity '{entity}' context_template: {error}", fix))
        return ""
    return template


def _build_view(
    node: dict[str, Any], entities: dict[str, Entity], project_dir: Path, errors: list[DefinitionError]
) -> FeatureView | None:
    name = node["name"]
    meta = _meta(node)
    before = len(errors)

    def refuse(problem: str, fix: str, column: str | None = None) -> None:
        errors.append(DefinitionError(name, problem, fix, column))

    entity_name = meta.get("entity")
    if not entity_name:
        known = ", ".join(sorted(entities)) or "none declared"
        refuse("feature view has no `entity` in config.meta", f"add `entity:` naming one of: {known}")
    elif entity_name not in entities:
        known = ", ".join(sorted(entities)) or "none declared"
        refuse(f"unknown entity {entity_name!r}",
               f"use one of: {known}, or declare it under `+meta: entities:` in dbt_project.yml")
    timestamp = meta.get("timestamp")
    if not timestamp:
        refuse("feature view has no `timestamp` in config.meta",
               "add `timestamp: <column>` naming the event timestamp column")
    freshness = _duration(meta, "freshness", refuse, required=True)
    ttl = _duration(meta, "ttl", refuse, required=False)
    owner = meta.get("owner")
    if not owner:
        refuse("feature view has no `owner` in config.meta", "add `owner: <team>`")
    description = (node.get("description") or "").strip()
    if not description:
        refuse("feature view has no description", "add a `description:` to the model in its YAML")
    location = parquet_location(node)
    if not location:
        refuse("feature view has no explicit Parquet location",
               f"add `location: data/features/{name}.parquet` under the model's config")

    features = []
    columns = node.get("columns", {})
    for column_name, column in columns.items():
        column_meta = (column.get("config") or {}).get("meta") or column.get("meta") or {}
        dtype = column_meta.get("dtype")
        if dtype is None:
            continue
        feature = _build_feature(name, column_name, column, str(dtype), meta, refuse)
        if feature is not None:
            features.append(feature)
    if not features and len(errors) == before:
        refuse("feature view has no feature columns",
               "give at least one column `config: {meta: {dtype: <dtype>}}` in the model's YAML")
    if len(errors) > before:
        return None
    path = Path(location)
    return FeatureView(
        name=name,
        entity=entity_name,
        timestamp=timestamp,
        created_timestamp=meta.get("created_timestamp") or None,
        freshness=freshness,  # type: ignore[arg-type]
        ttl=ttl,
        owner=str(owner),
        description=description,
        location=str(path if path.is_absolute() else (project_dir / path).resolve()),
        checksum=node.get("checksum", {}).get("checksum", ""),
        features=tuple(features),
        tags=tuple(node.get("tags") or ()),
    )


def parquet_location(node: dict[str, Any]) -> str | None:
    """Where a model's Parquet history lives, as its manifest node records it.

    dbt-duckdb's `external` writes one file at `location`. Other adapters have no
    `external`: there (Spark) the view is a Parquet table in the folder
    `location_root`/<alias>, which holds part files.
    """
    config = node.get("config", {})
    root = config.get("location_root")
    if config.get("materialized") != "external" and root:
        return f"{str(root).rstrip('/')}/{node.get('alias') or node['name']}"
    return config.get("location")


def _duration(meta: dict[str, Any], key: str, refuse: Any, required: bool) -> timedelta | None:
    text = meta.get(key)
    if text in (None, "", "none"):
        if required:
            refuse(f"feature view has no `{key}` in config.meta", f"add `{key}: 1h` (or 30s, 5m, 1d, 7d)")
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        refuse(f"`{key}`: {error}", f"write `{key}:` as a duration such as 30s, 5m, 1h, 1d or 7d")
        return None


_DATA_TYPE_ALIASES = {
    "int64": {"bigint", "int8", "int64", "long", "integer", "int", "int4", "int32", "smallint", "int2",
              "tinyint", "hugeint"},
    "float64": {"double", "float8", "float64", "double precision", "float", "float4", "real"},
    "bool": {"boolean", "bool"},
    "string": {"varchar", "text", "string", "char", "bpchar", "character varying"},
    "timestamp": {"timestamp", "timestamp_us", "timestamp_ns", "timestamp_ms", "timestamp_s", "datetime",
                  "timestamptz", "timestamp with time zone", "timestamp without time zone"},
}


def data_type_agrees(dtype: str, data_type: str) -> bool:
    """Whether a contract `data_type` (SQL) can hold the meta `dtype`."""
    normalized = re.sub(r"\(.*\)", "", data_type.strip().lower()).strip()
    element = list_element(dtype)
    if element is not None:
        inner = re.match(r"^(?:array<(.+)>|(.+)\[\])$", normalized)
        return bool(inner) and data_type_agrees(element, inner.group(1) or inner.group(2))
    return normalized in _DATA_TYPE_ALIASES.get(dtype, set())


def _build_feature(
    view: str, column_name: str, column: dict[str, Any], dtype: str, meta: dict[str, Any], refuse: Any
) -> Feature | None:
    if not is_valid_dtype(dtype):
        refuse(f"unknown dtype {dtype!r}", f"use one of: {valid_dtypes_text()}", column_name)
        return None
    if not NAME_PATTERN.match(column_name):
        refuse("feature name is not a lower-case identifier (a letter, then letters, digits or _)",
               "rename the column", column_name)
        return None
    if column_name in (meta.get("timestamp"), meta.get("created_timestamp")):
        refuse("the timestamp column cannot also be a feature", "remove its `dtype`", column_name)
        return None
    data_type = column.get("data_type")
    if data_type and not data_type_agrees(dtype, data_type):
        refuse(f"contract data_type {data_type!r} disagrees with dtype {dtype!r}",
               "make them agree (the data_type is what the model produces)", column_name)
        return None
    return Feature(column_name, dtype, view, (column.get("description") or "").strip())


def _check_unique_feature_names(views: list[FeatureView], errors: list[DefinitionError]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for view in views:
        for feature in view.features:
            other = seen.setdefault((view.entity, feature.name), view.name)
            if other != view.name:
                errors.append(DefinitionError(
                    view.name,
                    f"feature '{feature.name}' of entity '{view.entity}' is also defined in view '{other}'",
                    "feature names must be unique per entity across views: rename one of them",
                    feature.name,
                ))


def _check_context_templates(
    entities: dict[str, Entity], views: list[FeatureView], errors: list[DefinitionError]
) -> None:
    """Every placeholder of an entity's context template names one of its features, with a usable spec."""
    for entity in entities.values():
        if not entity.context_template:
            continue
        own = [view for view in views if view.entity == entity.name]
        if not own:
            continue
        features = {feature.name: feature for view in own for feature in view.features}
        for _, name, spec in parse_context_template(entity.context_template):
            if name is None:
                continue
            where = own[0].name  # the declaration reaches every view of the entity; name the first
            if name not in features:
                errors.append(DefinitionError(
                    where,
                    f"context_template of entity '{entity.name}' names {{{name}}}, which is not one of its features",
                    f"use one of {', '.join(sorted(features))} in `context_template:` under "
                    f"`+meta: entities: {entity.name}:` in dbt_project.yml",
                ))
                continue
            try:
                check_format_spec(features[name].dtype, spec)
            except ValueError as error:
                errors.append(DefinitionError(
                    where,
                    f"context_template of entity '{entity.name}': format spec {spec!r} of {{{name}}} cannot format "
                    f"{features[name].dtype} values ({error})",
                    "use a Python format spec for its dtype (e.g. `.1f` for a float64), or none",
                ))
