"""Run by Feast's own SDK (the .feast-venv interpreter, not the project's): read features two ways.

    .feast-venv/bin/python tests/feast_sdk/feast_client.py < spec.json > answers.json

The spec names a repo folder, our API's URL, Feast's Redis connection string, the rows to write
into Feast's own Redis online store, and the reads to make. Each read is made by the same SDK
twice: against Feast's Redis store, and against our API as Feast's `remote` online store. The
answers are printed as JSON: per read and store, the values (`to_dict()`) and the statuses.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

DTYPES = {"int64": Int64, "float64": Float64, "string": String}


def definitions(spec: dict) -> list:
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(path=str(Path(spec["repo"]) / "unused.parquet"), timestamp_field="event_timestamp")
    views = [
        FeatureView(
            name=view["name"], entities=[user], ttl=timedelta(seconds=view["ttl_seconds"]), source=source,
            schema=[Field(name=name, dtype=DTYPES[dtype]) for name, dtype in view["features"].items()],
            online=True,
        )
        for view in spec["views"]
    ]
    return [user, source, *views]


def store(repo: Path, project: str, online: dict) -> FeatureStore:
    repo.mkdir(parents=True, exist_ok=True)
    config = {
        "project": project, "provider": "local", "registry": str(repo.parent / "registry.db"),
        "online_store": online, "offline_store": {"type": "file"}, "entity_key_serialization_version": 3,
    }
    (repo / "feature_store.yaml").write_text(json.dumps(config))
    return FeatureStore(repo_path=str(repo))


def main() -> int:
    spec = json.load(sys.stdin)
    root = Path(spec["repo"])
    redis_store = store(root / "redis", spec["project"], {"type": "redis", "connection_string": spec["feast_redis"]})
    remote_store = store(root / "remote", spec["project"], {"type": "remote", "path": spec["api_url"]})
    redis_store.apply(definitions(spec))
    for view, rows in spec["rows"].items():
        frame = pd.DataFrame(rows)
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        redis_store.write_to_online_store(view, frame)
    answers = []
    for read in spec["reads"]:
        answer = {}
        for name, feast_store in (("feast_redis", redis_store), ("our_api", remote_store)):
            try:
                response = feast_store.get_online_features(
                    features=read["features"], entity_rows=[{"user_id": i} for i in read["ids"]],
                    full_feature_names=read.get("full_feature_names", False),
                )
                answer[name] = {
                    "values": response.to_dict(),
                    "statuses": [[status for status in vector.statuses] for vector in response.proto.results],
                    "names": list(response.proto.metadata.feature_names.val),
                }
            except Exception as error:  # the comparison reports it
                answer[name] = {"error": f"{type(error).__name__}: {error}"}
        answers.append(answer)
    json.dump(answers, sys.stdout, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
