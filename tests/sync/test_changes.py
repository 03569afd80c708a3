"""The sync's latest-row computation: partitioned or not, the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feature_store.offline import connection as duckdb_connection
from feature_store.registry.model import Entity, Feature, FeatureView
from sync import changes

ENTITY = Entity("user", ("user_id",), "int64")


def view(location: Path) -> FeatureView:
    return FeatureView(
        name="stats", entity="user", timestamp="ts", freshness=timedelta(hours=1), ttl=None, owner="o",
        description="d", location=str(location), checksum="c", created_timestamp="loaded",
        features=(Feature("n", "int64", "stats"), Feature("label", "string", "stats")),
    )


def test_partitioned_latest_rows_equal_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 1, 1)
    rows = [{"user_id": user, "ts": start + timedelta(hours=version % 4), "loaded": start + timedelta(minutes=version),
             "n": version, "label": None if version % 3 else f"v{version}"}
            for user in range(500) for version in range(8)]
    path = tmp_path / "stats.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    definition = view(path)
    schema = pq.read_schema(path)
    as_of = datetime(2026, 1, 1, 3, tzinfo=UTC)
    results = []
    for partition_size in (10_000, 70):
        monkeypatch.setattr(changes, "LATEST_PARTITION_ENTITIES", partition_size)
        connection = duckdb_connection.connect()
        staged = changes.stage(connection, definition, ENTITY, schema, as_of, None)
        assert staged.entities == staged.recomputed == 500
        results.append(sorted(connection.execute(f"select * from {changes.LATEST_TABLE}").fetchall()))
    assert results[0] == results[1]
    # Versions 3 and 7 tie on the latest event timestamp (+3h): the later load, 7, wins.
    assert {row[2] for row in results[0]} == {7}
