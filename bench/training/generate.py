"""Write a synthetic dbt project of feature histories at any scale, for the training-set benchmark.

Three views over one entity, as in the demo: one without ttl, one with a 90-day
ttl, one with a 30-day ttl and a created timestamp (where pairs of rows share an
event timestamp, so the tie-break does work). Each view's (key, event timestamp,
created timestamp) rows are unique by construction, so every implementation of
the join has one right answer. The spine draws entities from a range 5% wider
than the views' (some have no history) and times from 10 days before the
histories to 10 days after; duplicates occur as they come.

The output is a dbt project (the repository's point_in_time macros, the views'
YAML, Parquet under data/), parsed by dbt so target/manifest.json is real:

    python -m bench.training.generate --out /tmp/training-bench
    python -m bench.training.generate --spine-rows 10000 --feature-rows 100000 --entities 1000 \
        --out /tmp/training-bench-small
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

from feature_store.offline.training_compile import join_macro_files

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path(tempfile.gettempdir()) / "feature_store_training_bench"
START = "2025-01-01 00:00:00"
SPAN_SECONDS = 365 * 86400

# view -> (ttl, created timestamp column, {feature: (data_type, SQL over `i` (row number) and `e` (entity))})
VIEWS: dict[str, tuple[str | None, str | None, dict[str, tuple[str, str]]]] = {
    "bench_segment": (None, None, {
        "segment": ("varchar", "['power_user', 'regular', 'casual', 'dormant'][1 + (hash(i, 's') % 4)::int]"),
        "is_active": ("boolean", "hash(i, 'a') % 2 = 0"),
        "tenure_days": ("bigint", "(hash(i, 'd') % 3000)::bigint"),
    }),
    "bench_activity": ("90d", None, {
        "watch_count": ("bigint", "(hash(i, 'c') % 100)::bigint"),
        "watch_minutes": ("double", "(hash(i, 'm') % 100000) / 100.0"),
        "sessions": ("bigint", "(hash(i, 'n') % 50)::bigint"),
        "avg_rating": ("double", "(hash(i, 'r') % 500) / 100.0"),
    }),
    "bench_last": ("30d", "loaded_at", {
        "last_genre": ("varchar", "['drama', 'comedy', 'documentary', 'horror'][1 + (hash(i, 'g') % 4)::int]"),
        "last_title_id": ("bigint", "(hash(i, 't') % 40000)::bigint"),
        "last_device": ("varchar", "['tv', 'phone', 'tablet', 'web'][1 + (hash(i, 'v') % 4)::int]"),
    }),
}


def write_view(connection: duckdb.DuckDBPyConnection, path: Path, name: str, rows: int,
               entities: int) -> None:
    """Row i belongs to entity i % entities; its band j = i // entities fixes a distinct time slot."""
    _, created, features = VIEWS[name]
    per_entity = max(1, -(-rows // entities))
    columns = ", ".join(f"{sql} as {feature}" for feature, (_, sql) in features.items())
    if created:
        # Two rows per slot share an event timestamp and differ in load time.
        slot, slots = "((i // $entities) // 2)", max(1, -(-per_entity // 2))
        delay = "60 * ((i // $entities) % 2) + hash(i, 'l') % 60"
        loaded = f", event_timestamp + to_seconds(({delay})::bigint) as {created}"
    else:
        slot, slots, loaded = "(i // $entities)", per_entity, ""
    width = SPAN_SECONDS // slots
    connection.execute(f"""
        copy (
            select e as user_id, event_timestamp {loaded}, {columns}
            from (
                select i, i % $entities as e,
                    timestamp '{START}' + to_seconds(
                        ({slot} * {width} + hash(i % $entities, {slot}, '{name}') % {width})::bigint
                    ) as event_timestamp
                from range({rows}) as t(i)
            )
        ) to '{path}' (format parquet)
    """.replace("$entities", str(entities)))


def write_spine(connection: duckdb.DuckDBPyConnection, path: Path, rows: int, entities: int) -> None:
    known = int(entities * 1.05)
    connection.execute(f"""
        copy (
            select (hash(i, 'u') % {known})::bigint as user_id,
                timestamp '{START}' - interval 10 day
                    + to_seconds((hash(i, 't') % {SPAN_SECONDS + 20 * 86400})::bigint) as event_timestamp,
                hash(i, 'y') % 5 = 0 as label
            from range({rows}) as t(i)
        ) to '{path}' (format parquet)
    """)


def write_project(out: Path) -> None:
    """dbt_project.yml, a profile, the views' models and YAML, and the repository's point_in_time macros."""
    (out / "models" / "features").mkdir(parents=True, exist_ok=True)
    (out / "profiles").mkdir(exist_ok=True)
    macros = out / "macros"
    shutil.rmtree(macros, ignore_errors=True)
    macros.mkdir()
    for macro in join_macro_files(REPOSITORY / "macros"):
        shutil.copy2(macro, macros / macro.name)
    project = {
        "name": "training_bench", "version": "1.0.0", "config-version": 2, "profile": "training_bench",
        "model-paths": ["models"], "macro-paths": ["macros"],
        "models": {"training_bench": {"features": {
            "+materialized": "external", "+format": "parquet",
            "+meta": {"entities": {
                "user": {"join_key": "user_id", "dtype": "int64", "description": "A user."},
            }},
        }}},
    }
    (out / "dbt_project.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    profile = {"training_bench": {"target": "dev", "outputs": {"dev": {
        "type": "duckdb", "path": ":memory:", "threads": 2, "settings": {"TimeZone": "UTC"}}}}}
    (out / "profiles" / "profiles.yml").write_text(yaml.safe_dump(profile))
    models = []
    for name, (ttl, created, features) in VIEWS.items():
        location = f"data/features/{name}.parquet"
        model = out / "models" / "features" / f"{name}.sql"
        model.write_text(f"select * from read_parquet('{location}')\n")
        meta = {"entity": "user", "timestamp": "event_timestamp", "freshness": "1d", "owner": "bench"}
        if ttl:
            meta["ttl"] = ttl
        if created:
            meta["created_timestamp"] = created
        columns: list[dict[str, object]] = [{"name": "user_id", "description": "The user.", "data_type": "bigint"},
                   {"name": "event_timestamp", "description": "When the values took effect.",
                    "data_type": "timestamp"}]
        if created:
            columns.append({"name": created, "description": "When the row was loaded.", "data_type": "timestamp"})
        columns += [
            {"name": feature, "description": f"Synthetic {data_type}.", "data_type": data_type}
            for feature, (data_type, _) in features.items()
        ]
        models.append({"name": name, "description": f"Synthetic feature view {name}.",
                       "config": {"location": location, "meta": meta}, "columns": columns})
    (out / "models" / "features" / "_features.yml").write_text(
        yaml.safe_dump({"version": 2, "models": models}, sort_keys=False)
    )


def parse(out: Path) -> None:
    """A real `dbt parse`, so the manifest the ad-hoc path reads is dbt's own."""
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run([str(dbt), "parse", "--project-dir", str(out), "--profiles-dir", str(out / "profiles"),
                    "--quiet"], cwd=out, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the project folder (default {DEFAULT_OUT})")
    parser.add_argument("--spine-rows", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=9_000_000, help="over all three views")
    parser.add_argument("--entities", type=int, default=100_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = args.out.resolve()
    (out / "data" / "features").mkdir(parents=True, exist_ok=True)
    write_project(out)
    with duckdb.connect() as connection:
        for index, name in enumerate(VIEWS):
            rows = args.feature_rows // len(VIEWS) + (index < args.feature_rows % len(VIEWS))
            write_view(connection, out / "data" / "features" / f"{name}.parquet", name, rows, args.entities)
        write_spine(connection, out / "data" / "spine.parquet", args.spine_rows, args.entities)
    parse(out)
    seconds = time.perf_counter() - started
    print(f"wrote {args.spine_rows:,} spine rows and {args.feature_rows:,} feature rows "
          f"({len(VIEWS)} views, {args.entities:,} entities) to {out} in {seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
