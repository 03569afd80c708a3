"""Write a synthetic feature project at any scale: three views, ten features, one entity.

The output folder looks like a built dbt project to the sync: Parquet histories
under data/features/ and a target/manifest.json describing them, so the
benchmark exercises the same registry, checks and writes as a real project.

    python -m bench.sync.generate --entities 1000000 --rows-per-entity 3 --out /tmp/bench-project
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

from feature_store.offline.connection import one_row
from feature_store.registry.manifest import SUPPORTED_MANIFEST

ENTITIES = {"user": {"join_key": "user_id", "dtype": "int64", "description": "A synthetic user."}}

# view -> (freshness, ttl, {feature: (data_type, SQL over `e` (entity id) and `v` (version))})
VIEWS: dict[str, tuple[str, str | None, dict[str, tuple[str, str]]]] = {
    "bench_profile": ("1d", None, {
        "segment": ("varchar", "['power_user', 'regular', 'casual', 'dormant'][1 + ((e + v) % 4)::int]"),
        "is_active": ("boolean", "(e + v) % 2 = 0"),
        "score": ("double", "((e * 7919 + v * 104729) % 100000) / 1000.0"),
        "signed_up_at": ("timestamp", "timestamp '2025-01-01' + to_seconds((e % 31536000)::bigint)"),
    }),
    "bench_activity": ("1h", "90d", {
        "count_30d": ("bigint", "((e + v * 13) % 97)::bigint"),
        "minutes_30d": ("bigint", "((e * 3 + v * 7) % 5000)::bigint"),
        "avg_minutes": ("double", "case when (e + v) % 10 = 0 then null else ((e + v) % 1000) / 7.0 end"),
    }),
    "bench_last": ("1h", "30d", {
        "last_genre": ("varchar",
                       "['drama', 'comedy', 'documentary', 'thriller', 'horror'][1 + ((e * 31 + v) % 5)::int]"),
        "last_title_id": ("bigint", "((e * 17 + v) % 40000)::bigint"),
        "last_rating": ("double", "((e + v * 3) % 50) / 10.0"),
    }),
}


def write_view(connection: duckdb.DuckDBPyConnection, out: Path, name: str, entities: int, rows: int) -> None:
    features = VIEWS[name][2]
    columns = ", ".join(f"{sql} as {feature}" for feature, (_, sql) in features.items())
    connection.execute(f"""
        copy (
            select e as user_id,
                   timestamp '2026-11-20' - to_minutes(((rows_per - v) * 1440 + e % 1440)::bigint) as event_timestamp,
                   {columns}
            from (select range as e from range({entities})) entity_ids,
                 (select range as v, {rows} as rows_per from range({rows})) versions
        ) to '{out / "data" / "features" / f"{name}.parquet"}' (format parquet, compression zstd)
    """)


def manifest(out: Path) -> dict:
    nodes = {}
    for name, (freshness, ttl, features) in VIEWS.items():
        meta = {"entities": ENTITIES, "entity": "user", "timestamp": "event_timestamp", "freshness": freshness,
                "owner": "bench", **({"ttl": ttl} if ttl else {})}
        columns = {f: {"name": f, "description": f"Synthetic {f}.", "data_type": data_type,
                       "config": {"meta": {}}, "meta": {}}
                   for f, (data_type, _) in features.items()}
        nodes[f"model.bench.{name}"] = {
            "resource_type": "model", "name": name, "description": f"Synthetic view {name}.", "tags": ["bench"],
            "checksum": {"name": "sha256", "checksum": name},
            "config": {"meta": meta, "location": f"data/features/{name}.parquet"}, "meta": meta,
            "columns": columns,
        }
    return {"metadata": {"dbt_schema_version": SUPPORTED_MANIFEST, "project_name": "bench"}, "nodes": nodes}


def generate(out: Path, entities: int, rows_per_entity: int) -> None:
    (out / "data" / "features").mkdir(parents=True, exist_ok=True)
    (out / "target").mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    for name in VIEWS:
        write_view(connection, out, name, entities, rows_per_entity)
    (out / "target" / "manifest.json").write_text(json.dumps(manifest(out)))


def change_entities(
    out: Path, share: float, stamp: str = "2026-11-20 12:00:00", offset: int = 0, reorder: bool = False
) -> int:
    """Give a share of entities a new latest row in every view (an incremental sync's input).

    `offset` picks which share (ids equal to it modulo 1/share), so rounds can change different entities.
    The new rows are appended, as a table built in time order grows; with `reorder`, the whole file is
    written in another row order instead, so no row group of the last sync's file survives.
    """
    connection = duckdb.connect()
    changed = 0
    for name, (_, _, features) in VIEWS.items():
        path = out / "data" / "features" / f"{name}.parquet"
        columns = ", ".join(f"{sql} as {feature}" for feature, (_, sql) in features.items())
        step = max(1, round(1 / share))
        connection.execute(f"""
            copy (
                select * from (
                    select * from read_parquet('{path}')
                    union all
                    select e as user_id, timestamp '{stamp}' as event_timestamp, {columns}
                    from (select distinct user_id as e, 1000 + {offset} as v from read_parquet('{path}')
                          where user_id % {step} = {offset % step})
                ) {"order by hash(user_id, event_timestamp)" if reorder else ""}
            ) to '{path}.tmp' (format parquet, compression zstd)
        """)
        Path(f"{path}.tmp").replace(path)
        changed = one_row(connection.execute(
            f"select count(distinct user_id) from read_parquet('{path}') where user_id % {step} = {offset % step}"
        ))[0]
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--rows-per-entity", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    generate(args.out, args.entities, args.rows_per_entity)
    print(f"wrote {len(VIEWS)} views x {args.entities:,} entities x {args.rows_per_entity} rows to {args.out} "
          f"in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
