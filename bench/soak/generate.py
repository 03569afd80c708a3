"""A synthetic project whose every row carries its version in every feature, so a mixed row is detectable.

Like bench.sync.generate (three views, ten features, one `user` entity, Parquet
histories and a manifest), but each feature is a function of the entity id `e`
and the row's version `v` from which `v` can be read back, and the event time is
`BASE + v minutes`. A reader that sees two versions of one view's row at once
(some fields written, others not yet; a null that should have come back) finds
features that disagree on `v`. `ratio` is null exactly when `v % 3 == 0`, so a
field left behind by a null is caught too.

Each call of `new_version` appends one version for a share of entities (a
different share every round), with a later event time, for an incremental sync.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from feature_store.registry.manifest import SUPPORTED_MANIFEST

BASE = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = "2027-06-01T00:00:00Z"  # after every version a soak writes (one minute each), so the sync takes them all
ENTITIES = {"user": {"join_key": "user_id", "dtype": "int64", "description": "A synthetic user."}}
GENRES = ("drama", "comedy", "documentary", "thriller", "horror")

# view -> (freshness, ttl, {feature: (data_type, SQL over `e` (entity id) and `v` (version))})
VIEWS: dict[str, tuple[str, str | None, dict[str, tuple[str, str]]]] = {
    "soak_profile": ("1d", None, {
        "version": ("bigint", "v::bigint"),
        "tag": ("varchar", "'e' || e || '-v' || v"),
        "score": ("double", "((e % 1000) + v / 4.0)::double"),
        "even": ("boolean", "v % 2 = 0"),
    }),
    "soak_activity": ("1h", "3650d", {
        "count": ("bigint", "(e * 100000 + v)::bigint"),
        "ratio": ("double", "case when v % 3 = 0 then null else (v + 0.5)::double end"),
        "label": ("varchar", "'v' || v"),
    }),
    "soak_last": ("1h", "3650d", {
        "title_id": ("bigint", "(v * 7 + e % 7)::bigint"),
        "genre": ("varchar", f"{list(GENRES)}[1 + (v % 5)::int] || ':' || v"),
        "rating": ("double", "(v / 8.0)::double"),
    }),
}


def expected_row(view: str, entity_id: int, version: int) -> dict[str, Any]:
    """The features the generator writes for `(entity_id, version)`, as the API serves them (JSON values)."""
    e, v = entity_id, version
    if view == "soak_profile":
        return {"version": v, "tag": f"e{e}-v{v}", "score": (e % 1000) + v / 4.0, "even": v % 2 == 0}
    if view == "soak_activity":
        return {"count": e * 100000 + v, "ratio": None if v % 3 == 0 else v + 0.5, "label": f"v{v}"}
    return {"title_id": v * 7 + e % 7, "genre": f"{GENRES[v % 5]}:{v}", "rating": v / 8.0}


def version_of(view: str, features: dict[str, Any]) -> int:
    """The version one view's row claims, read from one feature of it (the checker compares the rest)."""
    if view == "soak_profile":
        return int(features["version"])
    if view == "soak_activity":
        return int(features["label"][1:])
    return int(features["genre"].split(":")[1])


def event_time(version: int) -> str:
    return (BASE + timedelta(minutes=version)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _columns(view: str) -> str:
    return ", ".join(f"{sql} as {feature}" for feature, (_, sql) in VIEWS[view][2].items())


def _path(out: Path, view: str) -> Path:
    return out / "data" / "features" / f"{view}.parquet"


def _rows_sql(view: str, ids_sql: str, version_sql: str) -> str:
    return f"""
        select e as user_id, timestamp '{BASE:%Y-%m-%d %H:%M:%S}' + to_minutes(v::bigint) as event_timestamp,
               {_columns(view)}
        from ({ids_sql}) ids, ({version_sql}) versions
    """


def generate(out: Path, entities: int, versions: int = 2) -> None:
    """Versions 0..versions-1 of every entity in every view, and the manifest describing them."""
    (out / "data" / "features").mkdir(parents=True, exist_ok=True)
    (out / "target").mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    for view in VIEWS:
        rows = _rows_sql(view, f"select range as e from range({entities})", f"select range as v from range({versions})")
        connection.execute(f"copy ({rows}) to '{_path(out, view)}' (format parquet, compression zstd)")
    (out / "target" / "manifest.json").write_text(json.dumps(manifest()))


def changed_ids(entities: int, version: int, step: int) -> range:
    """The ids that `new_version(..., version, step)` gives a new row: a different residue every round."""
    return range(version % step, entities, step)


def new_version(out: Path, entities: int, version: int, step: int) -> int:
    """Append `version` for every `step`-th entity (offset by the version) in every view; rows added per view."""
    connection = duckdb.connect()
    ids = changed_ids(entities, version, step)
    ids_sql = f"select range as e from range({ids.start}, {ids.stop}, {ids.step})"
    for view in VIEWS:
        path = _path(out, view)
        rows = _rows_sql(view, ids_sql, f"select {version} as v")
        connection.execute(f"""
            copy (select * from read_parquet('{path}') union all {rows})
            to '{path}.tmp' (format parquet, compression zstd)
        """)
        Path(f"{path}.tmp").replace(path)
    return len(ids)


def manifest() -> dict[str, Any]:
    nodes = {}
    for name, (freshness, ttl, features) in VIEWS.items():
        meta = {"entities": ENTITIES, "entity": "user", "timestamp": "event_timestamp", "freshness": freshness,
                "owner": "soak", **({"ttl": ttl} if ttl else {})}
        columns = {f: {"name": f, "description": f"Synthetic {f}.", "data_type": data_type,
                       "config": {"meta": {}}, "meta": {}}
                   for f, (data_type, _) in features.items()}
        nodes[f"model.soak.{name}"] = {
            "resource_type": "model", "name": name, "description": f"Synthetic view {name}.", "tags": ["soak"],
            "checksum": {"name": "sha256", "checksum": name},
            "config": {"meta": meta, "location": f"data/features/{name}.parquet"}, "meta": meta,
            "columns": columns,
        }
    return {"metadata": {"dbt_schema_version": SUPPORTED_MANIFEST, "project_name": "soak"}, "nodes": nodes}
