"""The fixture project's views as the tests see them, and a runner of compiled joins over given rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from feature_store.offline.connection import connect
from feature_store.offline.training_compile import CompiledJoin
from feature_store.offline.training_set import run_join
from tests.offline.reference import ViewSpec, point_in_time

FIXTURE_PROJECT = Path(__file__).resolve().parent / "pit_project"
IMPLEMENTATIONS = ("duckdb", "portable")

# The fixture project's views, as its YAML declares them.
VIEWS = (
    ViewSpec("plain_view", ("user_id",), "event_timestamp", ("plain_value", "plain_label")),
    ViewSpec("hourly_view", ("user_id",), "observed_at", ("hourly_value",), ttl=timedelta(hours=1)),
    ViewSpec("loaded_view", ("user_id",), "event_timestamp", ("loaded_value",), ttl=timedelta(days=1),
             created="loaded_at"),
    ViewSpec("title_view", ("user_id", "title_id"), "event_timestamp", ("title_affinity",),
             ttl=timedelta(weeks=2)),
)
VIEW_SCHEMAS = {
    "plain_view": pa.schema([("user_id", pa.int64()), ("event_timestamp", pa.timestamp("us")),
                             ("plain_value", pa.int64()), ("plain_label", pa.string())]),
    "hourly_view": pa.schema([("user_id", pa.int64()), ("observed_at", pa.timestamp("us")),
                              ("hourly_value", pa.float64())]),
    "loaded_view": pa.schema([("user_id", pa.int64()), ("event_timestamp", pa.timestamp("us")),
                              ("loaded_at", pa.timestamp("us")), ("loaded_value", pa.int64())]),
    "title_view": pa.schema([("user_id", pa.int64()), ("title_id", pa.int64()),
                             ("event_timestamp", pa.timestamp("us")), ("title_affinity", pa.int64())]),
}
SPINE_SCHEMA = pa.schema([("user_id", pa.int64()), ("title_id", pa.int64()),
                          ("event_timestamp", pa.timestamp("us")), ("label", pa.int64())])
SELECTION = tuple((view.name, view.features) for view in VIEWS)
T0 = datetime(2026, 3, 1, 12, 0, 0)

Row = dict[str, Any]


def write_parquet(path: Path, rows: list[Row], schema: pa.Schema) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def spine_file(folder: Path, columns: list[tuple[str, pa.DataType]] | None = None) -> Path:
    schema = pa.schema(columns) if columns else SPINE_SCHEMA
    return write_parquet(folder / f"spine__{'__'.join(schema.names)}.parquet", [], schema)


class CaseRunner:
    """Runs a compiled join over given view rows and spine rows, in one reused DuckDB connection."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.connection = connect(ordered=True)  # as the ad-hoc path runs it
        self.runs = 0

    def run(self, compiled: CompiledJoin, views: dict[str, list[Row]], spine: list[Row]) -> list[Row]:
        # A new folder per run: DuckDB caches file contents by path and modification time, and a
        # file rewritten within the same instant would be read from that cache.
        self.runs += 1
        folder = self.folder / f"run{self.runs}"
        folder.mkdir()
        locations = {
            name: write_parquet(folder / f"{name}.parquet", views.get(name, []), schema)
            for name, schema in VIEW_SCHEMAS.items()
        }
        spine_path = write_parquet(folder / "spine.parquet", spine, SPINE_SCHEMA)
        self.last_output = folder / "out.parquet"
        run_join(compiled, locations, spine_path, self.last_output, connection=self.connection)
        return pq.read_table(self.last_output).to_pylist()

    def close(self) -> None:
        self.connection.close()


def expected(views: dict[str, list[Row]], spine: list[Row]) -> list[Row]:
    """The reference result for the fixture project's four views."""
    return point_in_time(spine, [(view, views.get(view.name, [])) for view in VIEWS])


def spine_row(user_id: int | None, moment: datetime | None, label: int = 0, title_id: int | None = 1) -> Row:
    return {"user_id": user_id, "title_id": title_id, "event_timestamp": moment, "label": label}

