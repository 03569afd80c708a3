"""The same training set by Feast's DuckDB offline store, run by Feast's own virtualenv's Python.

    .feast-venv/bin/python bench/training/feast_run.py JOB.json

JOB.json (written by benchmark.py): the spine's Parquet file, the output file, and per
view its Parquet file, ttl in seconds (none: no ttl), created-timestamp column and
features. A feature repo of those views is applied in a scratch folder; then
`get_historical_features(...).to_df()` is timed on its own. Prints JSON: that call's
seconds and the rows it returned. Imports only Feast and what it ships with, never the
project (another virtualenv).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def main(job_path: str) -> int:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig
    from feast.types import Bool, Float64, Int64, String

    types = {pa.int64(): Int64, pa.float64(): Float64, pa.string(): String, pa.bool_(): Bool}
    job = json.loads(Path(job_path).read_text())
    with tempfile.TemporaryDirectory(prefix="feast_bench_") as scratch:
        config = RepoConfig(
            project="training_bench", provider="local", registry=str(Path(scratch) / "registry.db"),
            offline_store=DuckDBOfflineStoreConfig(), online_store={"type": "sqlite", "path": f"{scratch}/online.db"},
            entity_key_serialization_version=3, repo_path=scratch,
        )
        store = FeatureStore(config=config)
        user = Entity(name="user", join_keys=["user_id"])
        views = []
        for view in job["views"]:
            schema = pq.read_schema(view["path"])
            source = FileSource(path=view["path"], timestamp_field="event_timestamp",
                                created_timestamp_column=view["created"] or "")
            views.append(FeatureView(
                name=view["name"], entities=[user], source=source,
                ttl=timedelta(seconds=view["ttl_seconds"]) if view["ttl_seconds"] else timedelta(0),
                schema=[Field(name=name, dtype=types[schema.field(name).type]) for name in view["features"]],
            ))
        store.apply([user, *views])
        spine = pd.read_parquet(job["spine"])
        features = [f"{view['name']}:{name}" for view in job["views"] for name in view["features"]]
        started = time.perf_counter()
        frame = store.get_historical_features(entity_df=spine, features=features).to_df()
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": len(frame)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
