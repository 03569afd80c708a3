"""Ad-hoc point-in-time training sets for notebooks and scripts.

    python -m sync training-set --spine spine.parquet --features user_segment,watch_count_30d \\
        --out train.parquet

    from feature_store.offline.training_set import build_training_set
    table = build_training_set("spine.parquet", ["user_segment", "last_genre"])   # a pyarrow Table

The spine (Parquet, CSV, a pyarrow Table or a pandas DataFrame) holds each view's
entity key, `event_timestamp` and any other columns, which pass through. Feature
names resolve to their views through the registry; the join is the project's
point_in_time_join macro, rendered from dbt's manifest without starting dbt
(training_compile.py; `recompile=True` / `--recompile` has dbt compile it), and run by
DuckDB over the views' Parquet files straight into the output Parquet file, within
DuckDB's memory limit (spilling past it; see run_join). Rows come back in the spine's order.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, Unpack

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from feature_store.offline.connection import connect, memory_limit_bytes, one_row
from feature_store.offline.schema import parquet_files, part_files
from feature_store.offline.training_compile import (
    IMPLEMENTATIONS,
    ROW_NUMBER_COLUMN,
    SPINE_VARIABLE,
    CompiledJoin,
    Compiler,
    JoinRequest,
    TrainingSetError,
    render_join,
)
from feature_store.registry.manifest import default_manifest_path, read_manifest, registry_from_manifest
from feature_store.registry.model import Registry
from feature_store.sql import literal, quote

if TYPE_CHECKING:
    import pandas as pd

Spine: TypeAlias = str | Path | pa.Table | Any  # Any: a pandas DataFrame


def resolve_features(registry: Registry, names: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Group feature names by view, views in order of first mention; unknown or ambiguous names fail."""
    owners: dict[str, list[str]] = {}
    for entity in registry.entities:
        for name, feature in registry.features_of(entity.name).items():
            owners.setdefault(name, []).append(feature.view)
    selection: dict[str, list[str]] = {}
    for name in names:
        views = owners.get(name, [])
        if not views:
            known = ", ".join(sorted(owners)) or "none"
            raise TrainingSetError(f"no feature named {name!r}; the features are: {known}")
        if len(views) > 1:
            raise TrainingSetError(f"feature {name!r} is defined by several views ({', '.join(views)})")
        features = selection.setdefault(views[0], [])
        if name not in features:
            features.append(name)
    if not selection:
        raise TrainingSetError("no features asked for: name at least one, e.g. --features user_segment")
    return tuple((view, tuple(features)) for view, features in selection.items())


@dataclass(frozen=True)
class TrainingSetRun:
    """What a build did: rows and columns written, seconds taken (all, and the join's), and whether dbt
    compiled the join (`recompile`) rather than it being rendered from the manifest."""

    rows: int
    columns: int
    seconds: float
    join_seconds: float
    compiled: bool


class TrainingSetOptions(TypedDict, total=False):
    """The keyword options of every way to build a training set, each with its default.

    project_dir: the dbt project, parsed or built (default "."); implementation: "duckdb" or
    "portable" (default: the adapter's own); spine_timestamp: the spine's time column (default
    "event_timestamp"); threads: DuckDB's threads (default: every core, and one for the join
    when its inputs outgrow the memory limit); recompile: have dbt
    compile the join from the project's files as they are now, instead of rendering the macros
    of its manifest (seconds: dbt starts; default False); cache_dir: where that compile keeps
    its dbt target, logs and profile (default: target/training_set/ in the project).
    """

    project_dir: str | Path
    implementation: str | None
    spine_timestamp: str
    threads: int | None
    cache_dir: str | Path | None
    recompile: bool


def build_training_set(
    spine: Spine, features: Sequence[str], out: str | Path | None = None, **options: Unpack[TrainingSetOptions]
) -> pa.Table:
    """The spine joined point in time to `features`, as a pyarrow Table (also written to `out` if given).

    Options: see TrainingSetOptions.
    """
    with tempfile.TemporaryDirectory(prefix="training_set_") as scratch:
        target = Path(out) if out is not None else Path(scratch) / "training_set.parquet"
        _build(spine, features, target, Path(scratch), options)
        return pq.read_table(target)


def build_training_frame(spine: Spine, features: Sequence[str], out: str | Path | None = None,
                         **options: Unpack[TrainingSetOptions]) -> pd.DataFrame:
    """As build_training_set, as a pandas DataFrame."""
    try:
        import pandas  # noqa: F401
    except ImportError as error:
        raise TrainingSetError("pandas is not installed: pip install -r requirements.txt") from error
    return build_training_set(spine, features, out, **options).to_pandas()


def write_training_set(
    spine: Spine, features: Sequence[str], out: str | Path, **options: Unpack[TrainingSetOptions]
) -> TrainingSetRun:
    """Write the training set to the Parquet file `out` without reading it back. Options: see TrainingSetOptions."""
    with tempfile.TemporaryDirectory(prefix="training_set_") as scratch:
        return _build(spine, features, Path(out), Path(scratch), options)


def _build(spine: Spine, features: Sequence[str], out: Path, scratch: Path,
           options: TrainingSetOptions) -> TrainingSetRun:
    started = time.perf_counter()
    unknown = sorted(set(options) - set(TrainingSetOptions.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"the options are {', '.join(TrainingSetOptions.__annotations__)}")
    project_dir = Path(options.get("project_dir", "."))
    implementation = options.get("implementation")
    spine_timestamp = options.get("spine_timestamp", "event_timestamp")
    threads = options.get("threads")
    cache_dir = Path(cache) if (cache := options.get("cache_dir")) else None
    recompile = options.get("recompile", False)
    if implementation not in (None, *IMPLEMENTATIONS):
        choices = ", ".join(IMPLEMENTATIONS)
        raise TrainingSetError(f"unknown implementation {implementation!r}; use one of {choices}")
    manifest = read_manifest(project_dir)
    registry = registry_from_manifest(manifest, project_dir, source=str(default_manifest_path(project_dir)))
    selection = resolve_features(registry, features)
    locations = {view: Path(registry.view(view).location) for view, _ in selection}
    for view, location in locations.items():
        if not location.exists():
            raise TrainingSetError(f"view {view!r} has no Parquet file at {location}: run `dbt build` first")
    spine_path = spine_parquet(spine, scratch)
    columns = pq.read_schema(spine_path).names
    if ROW_NUMBER_COLUMN in columns:
        raise TrainingSetError(f"the spine has a column {ROW_NUMBER_COLUMN!r}, used by the join: rename it")
    request = JoinRequest(selection, spine_timestamp, implementation)
    if recompile:
        compiled = Compiler(project_dir, cache_dir).compile(request, spine_path)
    else:
        compiled = render_join(manifest, project_dir, request, columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    join_started = time.perf_counter()
    try:
        rows = run_join(compiled, locations, spine_path, partial, threads, scratch=scratch)
        join_seconds = time.perf_counter() - join_started
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    width = len(pq.read_schema(out).names)
    return TrainingSetRun(rows, width, time.perf_counter() - started, join_seconds, recompile)


def spine_parquet(spine: Spine, scratch: Path) -> Path:
    """The spine as a Parquet file: a Parquet path as is; CSV, Arrow and pandas are written once."""
    if isinstance(spine, str | Path):
        path = Path(spine).resolve()
        if not path.is_file():
            raise TrainingSetError(f"no spine file at {path}")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return path
        if suffix in (".csv", ".tsv", ".txt"):
            converted = scratch / "spine.parquet"
            with connect(bounded=False) as connection:
                connection.execute(
                    f"copy (select * from read_csv({literal(str(path))})) "
                    f"to {literal(str(converted))} (format parquet)"
                )
            return converted
        raise TrainingSetError(f"spine {path}: use a Parquet (.parquet) or CSV (.csv) file")
    if not isinstance(spine, pa.Table):
        try:
            spine = pa.Table.from_pandas(spine, preserve_index=False)
        except (TypeError, AttributeError) as error:
            raise TrainingSetError("the spine must be a file, an Arrow table or a DataFrame") from error
    converted = scratch / "spine.parquet"
    pq.write_table(spine, converted)
    return converted


def prepare(connection: duckdb.DuckDBPyConnection, compiled: CompiledJoin, locations: dict[str, Path],
            spine_path: Path) -> None:
    """Point each view's relation at its Parquet file and the spine variable at the spine."""
    current = one_row(connection.execute("select current_database()"))[0]
    for view, (database, schema, identifier) in compiled.relations.items():
        if database != current:
            connection.execute(f"attach if not exists ':memory:' as {quote(database)}")
        connection.execute(f"create schema if not exists {quote(database)}.{quote(schema)}")
        connection.execute(
            f"create or replace view {quote(database)}.{quote(schema)}.{quote(identifier)} as "
            f"select * from read_parquet({literal(parquet_files(str(locations[view])))})"
        )
    connection.execute(f"set variable {SPINE_VARIABLE} = {literal(str(spine_path))}")


def input_bytes(locations: dict[str, Path], spine_path: Path) -> int:
    """The uncompressed size of the join's inputs (the views' and the spine's Parquet), from their footers."""
    total = 0
    for path in [*(f for location in locations.values() for f in part_files(str(location))), spine_path]:
        metadata = pq.ParquetFile(path).metadata
        total += sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    return total


def run_join(compiled: CompiledJoin, locations: dict[str, Path], spine_path: Path, out: Path,
             threads: int | None = None, connection: duckdb.DuckDBPyConnection | None = None,
             scratch: Path | None = None, in_memory: bool | None = None) -> int:
    """Run the compiled join into the Parquet file `out`, rows in the spine's order; the number of rows.

    `scratch`: a private folder for DuckDB's spill files and the unordered join (default:
    the shared spill folder, and beside `out`). `in_memory`: whether the inputs fit in the
    memory limit (default: their uncompressed size, from the Parquet footers, against it).

    When the inputs fit in the memory limit, one statement joins and sorts. Past it, two:
    the join on one thread (as asked, if `threads`) into an unordered Parquet file, then the
    sort into the spine's order on every thread. With the sort on top of the chained ASOF
    joins, or every core joining, DuckDB ran out of memory at 512MB on 2.5GB of input (the
    joins' per-thread sorted partitions are pinned, and do not spill); this way each
    statement spills what it holds.
    """
    connection = connection or connect(threads, ordered=True,
                                       spill_directory=scratch / "spill" if scratch else None)
    prepare(connection, compiled, locations, spine_path)
    rows = f"select * from (\n{compiled.sql}\n) as training_set"
    if in_memory is None:
        in_memory = input_bytes(locations, spine_path) <= memory_limit_bytes(connection)
    if in_memory:
        return _copy(connection, f"{_ordered(rows)}", out)
    unordered = (scratch or out.parent) / f".{out.name}.unordered"
    try:
        connection.execute(f"SET threads = {int(threads or 1)}")
        connection.execute("SET preserve_insertion_order = false")
        _copy(connection, rows, unordered)
        connection.execute(f"SET threads = {int(threads)}" if threads else "RESET threads")
        connection.execute("RESET preserve_insertion_order")
        return _copy(connection, _ordered(f"select * from read_parquet({literal(str(unordered))})"), out)
    finally:
        unordered.unlink(missing_ok=True)


def _ordered(rows: str) -> str:
    """`rows` in the spine's order, without the spine's row number."""
    return f"select * exclude ({ROW_NUMBER_COLUMN}) from ({rows}) as joined order by {ROW_NUMBER_COLUMN}"


def _copy(connection: duckdb.DuckDBPyConnection, query: str, out: Path) -> int:
    result = connection.execute(f"copy ({query}) to {literal(str(out))} (format parquet)").fetchone()
    return int(result[0]) if result else 0
