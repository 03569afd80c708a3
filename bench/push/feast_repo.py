"""The same view for Feast 0.67: a push source over a Parquet batch source, its Redis online store.

Written as files of a Feast repository; `feast apply` and `feast serve` run in Feast's own virtualenv.
"""

from __future__ import annotations

from pathlib import Path

FEATURE_STORE_YAML = """project: push_bench
provider: local
registry: {repo}/registry.db
online_store:
  type: redis
  connection_string: "127.0.0.1:{redis_port}"
offline_store:
  type: file
entity_key_serialization_version: 3
"""

DEFINITIONS = '''from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Int64, String

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
history = FileSource(path="{repo}/user_last_genre.parquet", timestamp_field="event_timestamp",
                     created_timestamp_column="loaded_at")
push_source = PushSource(name="user_last_genre_push", batch_source=history)
user_last_genre = FeatureView(
    name="user_last_genre",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[Field(name="last_genre", dtype=String), Field(name="last_title_id", dtype=Int64)],
    source=push_source,
    online=True,
)
'''

SEED = '''import pandas as pd
from datetime import datetime, timezone
now = datetime.now(timezone.utc)
pd.DataFrame({{"user_id": [1], "event_timestamp": [now], "loaded_at": [now], "last_genre": ["seed"],
              "last_title_id": [1]}}).to_parquet("{repo}/user_last_genre.parquet")
'''


def write_repo(repo: Path, redis_port: int) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML.format(repo=repo, redis_port=redis_port))
    (repo / "definitions.py").write_text(DEFINITIONS.format(repo=repo))
    (repo / "seed.py").write_text(SEED.format(repo=repo))
