"""Building the registry from dbt's manifest.json, and checking the contract.

dbt is the single definition of every feature. A model is a feature view when
its `config.meta` names an `entity` (or inherits the `entities` declaration of
the features folder). Every other column of a view than its entity's join keys,
its `timestamp` and its `created_timestamp` is a feature (unless its meta says
`feature: false`), whose dtype follows from the column's contract `data_type`.
Only the sync builds the registry this way; it publishes it into Redis
(`Registry.to_json`), where the API reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from feature_store.errors import DefinitionError, DefinitionErrors, ManifestNotFound
from feature_store.registry.dtypes import dtype_of_sql_type, supported_sql_types_text
from feature_store.registry.durations import parse_duration
from feature_store.registry.model import (
    DEFAULT_DRIFT_THRESHOLD,
    DEFAULT_NULL_RATE_THRESHOLD,
    ENTITY_KEY_DTYPES,
    NAME_PATTERN,
    REFERENCE_KINDS,
    SYNC_REFERENCES,
    Entity,
    Feature,
    FeatureView,
    Monitoring,
    Registry,
)
from feature_store.registry.templates import (
    STALE_FIELDS,
    UNKNOWN_FIELDS,
    check_format_spec,
    parse_context_template,
    parse_wording,
)

SUPPORTED_MANIFEST = "https://schemas.getdbt.com/dbt/manifest/v12.json"


def default_manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def load_registry(project_dir: Path, manifest_path: Path | None = None) -> Registry:
    """Read the manifest and build a validated registry, or raise with every problem found."""
    path = manifest_path or default_manifest_path(project_dir)
    return registry_from_manifest(read_manifest(project_dir, path), project_dir, source=str(path))


def read_manifest(project_dir: Path, manifest_path: Path | None = None) -> dict[str, Any]:
    """dbt's manifest.json as JSON, or a ManifestNotFound saying how to make it."""
    path = manifest_path or default_manifest_path(project_dir)
    if not path.is_file():
        raise ManifestNotFound(
            f"no dbt manifest at {path}: run `dbt build` (or `dbt parse`) in {project_dir} first"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ManifestNotFound(
            f"{path} is not valid JSON ({error}): run `dbt parse` to rewrite it"
        ) from error
    return manifest


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
    models = {node["name"]: node for node in manifest.get("nodes", {}).values()
              if node.get("resource_type") == "model"}
    views = [view for node in nodes if (view := _build_view(node, entities, project_dir, errors, models))]
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
    stale = _context_wording(model, name, "context_stale", spec.get("context_stale"), STALE_FIELDS, errors)
    unknown = _context_wording(model, name, "context_unknown", spec.get("context_unknown"), UNKNOWN_FIELDS, errors)
    return Entity(name, tuple(str(k) for k in keys), dtype, str(spec.get("description", "")), template,
                  stale, unknown)


def _context_wording(
    model: str, entity: str, key: str, text: Any, fields: tuple[str, ...], errors: list[DefinitionError]
) -> str:
    """`context_stale` / `context_unknown` when well formed; else "" (the default wording) and an error."""
    example = "{value} (as of {age} ago)" if key == "context_stale" else "unknown ({reason})"
    fix = (f"write `{key}:` of entity '{entity}' in dbt_project.yml as text with the placeholders "
           f"{', '.join('{' + f + '}' for f in fields)}, e.g. `{example}`")
    return _entity_text(model, entity, key, text, lambda checked: parse_wording(checked, fields), fix, errors)


def _context_template(model: str, entity: str, template: Any, errors: list[DefinitionError]) -> str:
    """The declared template when well formed; else "" and an error (the entity and its views still
    build, so the one mistake is reported once, not as every view's unknown entity)."""
    fix = (f"write `context_template:` of entity '{entity}' in dbt_project.yml as text with "
           "`{feature}` placeholders, e.g. `User context: segment={user_segment}.`")
    return _entity_text(model, entity, "context_template", template, parse_context_template, fix, errors)


def _entity_text(model: str, entity: str, key: str, text: Any, parse: Callable[[str], object], fix: str,
                 errors: list[DefinitionError]) -> str:
    """An entity's declared text (`key`) when `parse` accepts it; "" when absent, or with an error when not text
    or malformed."""
    if text is None or text == "":
        return ""
    if not isinstance(text, str):
        errors.append(DefinitionError(model, f"entity '{entity}' has a {key} that is not text", fix))
        return ""
    try:
        parse(text)
    except ValueError as error:
        errors.append(DefinitionError(model, f"entity '{entity}' {key}: {error}", fix))
        return ""
    return text


def _build_view(
    node: dict[str, Any],
    entities: dict[str, Entity],
    project_dir: Path,
    errors: list[DefinitionError],
    models: dict[str, dict[str, Any]] | None = None,
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
    takes_pushes = meta.get("push", False)
    if not isinstance(takes_pushes, bool):
        refuse(f"meta `push` is {takes_pushes!r}",
               "write `push: true` for a view that takes pushed rows (its model reads its push log), or remove it")
        takes_pushes = False
    location = parquet_location(node)
    if not location:
        refuse("feature view has no explicit Parquet location",
               f"add `location: data/features/{name}.parquet` under the model's config")

    monitoring = _monitoring(meta.get("monitor"), models or {}, project_dir, refuse)
    features = []
    entity = entities.get(entity_name) if entity_name else None
    # Which columns are features depends on the entity's keys: with no entity, judge none of them.
    if entity is not None:
        not_features = {
            **{key: f"a join key of entity '{entity.name}'" for key in entity.join_keys},
            **{column: "a timestamp column" for column in (timestamp, meta.get("created_timestamp")) if column},
        }
        for column_name, column in node.get("columns", {}).items():
            feature = _build_feature(name, column_name, column, not_features.get(column_name), refuse)
            if feature is not None:
                features.append(feature)
    if not features and len(errors) == before:
        refuse("feature view has no feature columns",
               "add a column besides the entity's join keys and the timestamps, with its contract `data_type`, "
               "to the model's YAML")
    # After `or`: what was refused above when missing, restated so the types below are not Optional.
    if len(errors) > before or not (entity_name and timestamp and location) or freshness is None:
        return None
    path = Path(location)
    return FeatureView(
        name=name,
        entity=entity_name,
        timestamp=timestamp,
        created_timestamp=meta.get("created_timestamp") or None,
        freshness=freshness,
        ttl=ttl,
        owner=str(owner),
        description=description,
        location=str(path if path.is_absolute() else (project_dir / path).resolve()),
        checksum=node.get("checksum", {}).get("checksum", ""),
        features=tuple(features),
        tags=tuple(node.get("tags") or ()),
        push_log=str((project_dir / push_log_folder(name)).resolve()) if takes_pushes else None,
        monitoring=monitoring,
    )


def push_log_folder(view: str) -> str:
    """A push-fed view's log, relative to the project: the folder its model reads with
    `{{ push_log('<view>') }}` (macros/push_log.sql follows the same rule)."""
    return f"data/push/{view}"


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


MONITOR_KEYS = ("reference", "drift_threshold", "null_rate_threshold")
MONITOR_EXAMPLE = ("monitor: {reference: {model: <training set model>}, drift_threshold: 0.25, "
                   "null_rate_threshold: 0.1}")


def _monitoring(spec: Any, models: dict[str, dict[str, Any]], project_dir: Path, refuse: Any) -> Monitoring:
    """The view's `monitor:` meta: its drift reference and thresholds (defaults: the previous sync, 0.25, 0.1)."""
    if spec is None:
        return Monitoring()
    if not isinstance(spec, dict):
        refuse(f"meta `monitor` is {spec!r}, not a mapping", f"write it as `{MONITOR_EXAMPLE}`")
        return Monitoring()
    unknown = sorted(set(spec) - set(MONITOR_KEYS))
    if unknown:
        refuse(f"meta `monitor` has unknown key(s) {', '.join(unknown)}",
               f"use only {', '.join(MONITOR_KEYS)}, as in `{MONITOR_EXAMPLE}`")
    thresholds = {}
    for key, default in (("drift_threshold", DEFAULT_DRIFT_THRESHOLD),
                         ("null_rate_threshold", DEFAULT_NULL_RATE_THRESHOLD)):
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or \
                (key == "null_rate_threshold" and value > 1):
            bound = "a number above 0 and at most 1" if key == "null_rate_threshold" else "a number above 0"
            refuse(f"meta `monitor.{key}` is {value!r}", f"write `{key}:` as {bound}, e.g. {default}")
            value = default
        thresholds[key] = float(value)
    kind, name, location = "sync", "previous", ""
    reference = spec.get("reference", {"sync": "previous"})
    choices = ("`reference: {model: <a training set model>}`, `reference: {sync: previous}` or "
               "`reference: {sync: baseline}`")
    if not isinstance(reference, dict) or len(reference) != 1 or next(iter(reference)) not in REFERENCE_KINDS:
        refuse(f"meta `monitor.reference` is {reference!r}", f"write {choices}")
        return Monitoring(drift_threshold=thresholds["drift_threshold"],
                          null_rate_threshold=thresholds["null_rate_threshold"])
    ((kind, name),) = reference.items()
    if kind == "sync" and name not in SYNC_REFERENCES:
        refuse(f"meta `monitor.reference.sync` is {name!r}", f"write {choices}")
        kind, name = "sync", "previous"
    elif kind == "model":
        node = models.get(str(name))
        where = parquet_location(node) if node else None
        if node is None:
            known = ", ".join(sorted(n for n, m in models.items() if parquet_location(m))) or "none"
            refuse(f"meta `monitor.reference.model` names {name!r}, which is no model of the project",
                   f"name a model materialized to Parquet, one of: {known}")
            kind, name = "sync", "previous"
        elif not where:
            refuse(f"meta `monitor.reference.model` names {name!r}, which has no Parquet location",
                   f"give model {name!r} a `location:` in its config, or name another model")
            kind, name = "sync", "previous"
        else:
            path = Path(where)
            location = str(path if path.is_absolute() else (project_dir / path).resolve())
    return Monitoring(kind, str(name), location, thresholds["drift_threshold"], thresholds["null_rate_threshold"])


def _duration(meta: dict[str, Any], key: str, refuse: Any, required: bool) -> timedelta | None:
    text = meta.get(key)
    if text is None or text in ("", "none"):
        if required:
            refuse(f"feature view has no `{key}` in config.meta", f"add `{key}: 1h` (or 30s, 5m, 1d, 7d)")
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        refuse(f"`{key}`: {error}", f"write `{key}:` as a duration such as 30s, 5m, 1h, 1d or 7d")
        return None


def _build_feature(
    view: str, column_name: str, column: dict[str, Any], not_a_feature: str | None, refuse: Any
) -> Feature | None:
    """The column as a feature: its dtype from its contract `data_type`. None when it is not a feature
    (`not_a_feature` says why, or its meta says `feature: false`) or is refused."""
    column_meta = (column.get("config") or {}).get("meta") or column.get("meta") or {}
    written = column_meta.get("dtype")  # optional, and redundant: it must agree where it is still written
    flag = column_meta.get("feature", True)
    if not isinstance(flag, bool):
        refuse(f"meta `feature` is {flag!r}", "write `feature: false` to leave the column out, or remove it",
               column_name)
        return None
    if not_a_feature or not flag:
        if written is not None:
            refuse(f"the column is not a feature ({not_a_feature or 'its meta says `feature: false`'}) "
                   f"but its meta has dtype {written!r}", "remove the `dtype`", column_name)
        return None
    if not NAME_PATTERN.match(column_name):
        refuse("feature name is not a lower-case identifier (a letter, then letters, digits or _)",
               "rename the column", column_name)
        return None
    data_type = column.get("data_type")
    if not data_type:
        refuse("feature column has no contract `data_type`",
               "declare the type the model produces, e.g. `data_type: bigint` (the feature's dtype follows from "
               "it), or set `config: {meta: {feature: false}}` if the column is not a feature", column_name)
        return None
    dtype = dtype_of_sql_type(str(data_type))
    if dtype is None:
        refuse(f"contract data_type {data_type!r} maps to no feature dtype",
               f"declare a data_type of a supported type: {supported_sql_types_text()}", column_name)
        return None
    if written is not None and written != dtype:
        refuse(f"meta dtype {written!r} disagrees with {dtype!r}, the dtype of its contract data_type {data_type!r}",
               "remove the `dtype`: a feature's dtype follows from its data_type", column_name)
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
        for _, name, spec, attribute in parse_context_template(entity.context_template):
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
            if attribute:
                continue  # no format spec on an attribute (the parser refused one)
            try:
                check_format_spec(features[name].dtype, spec)
            except ValueError as error:
                errors.append(DefinitionError(
                    where,
                    f"context_template of entity '{entity.name}': format spec {spec!r} of {{{name}}} cannot format "
                    f"{features[name].dtype} values ({error})",
                    "use a Python format spec for its dtype (e.g. `.1f` for a float64), or none",
                ))
