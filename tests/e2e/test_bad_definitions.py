"""Broken feature definitions, written the way users write them (YAML and SQL, then `dbt parse`):
each is refused with a message naming the model and the fix, and Redis is left untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import BuiltProject, run_dbt

REPO = Path(__file__).resolve().parents[2]
FEATURES_YML = Path("models") / "features" / "_features.yml"

def edit_yaml(old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / FEATURES_YML
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return edit


def add_column(view_marker: str, column: str) -> Callable[[Path], None]:
    """A YAML column declared under a view's `columns:` list."""
    return edit_yaml(view_marker, view_marker + column)


SEGMENT_META = """      meta:
        entity: user
        timestamp: event_timestamp
        freshness: 1d"""
GENRE_META = """        entity: user
        timestamp: event_timestamp
        created_timestamp: loaded_at"""

# Each group is one `dbt parse` (they cost seconds); the sync must report every problem of a group at once.
GROUPS = {
    "meta": [
        (edit_yaml(SEGMENT_META, SEGMENT_META.replace("        entity: user\n", "")),
         ["model 'user_segment'", "no `entity` in config.meta", "add `entity:`"]),
        (edit_yaml(GENRE_META, GENRE_META.replace("entity: user", "entity: customer")),
         ["model 'user_last_genre'", "unknown entity 'customer'", "use one of: user"]),
        (edit_yaml("        ttl: 90d", "        ttl: 90 days"),
         ["model 'user_watch_stats'", "`ttl`: invalid duration '90 days'", "such as 30s, 5m, 1h, 1d or 7d"]),
    ],
    "columns": [
        (edit_yaml("up to event_timestamp.\n        data_type: bigint\n", "up to event_timestamp.\n"
                   "        data_type: decimal(18, 3)\n"),
         ["model 'user_watch_stats', column 'watch_count_30d'",
          "contract data_type 'decimal(18, 3)' maps to no feature dtype", "bigint, int8", "varchar, text"]),
        (edit_yaml("per title in the 30-day window (null when nothing was watched).\n        data_type: double\n",
                   "per title in the 30-day window (null when nothing was watched).\n        data_type: double\n"
                   "        config:\n          meta: {dtype: int64}\n"),
         ["column 'avg_minutes_per_title_30d'", "meta dtype 'int64' disagrees with 'float64'", "remove the `dtype`"]),
        (edit_yaml("      - name: watch_minutes_30d\n",
                   "      - name: last_device\n        description: No data_type.\n      - name: watch_minutes_30d\n"),
         ["model 'user_watch_stats', column 'last_device'", "feature column has no contract `data_type`",
          "`data_type: bigint`"]),
        (add_column("    columns:\n", "      - name: last_genre\n        description: Declared twice.\n"
                                      "        data_type: varchar\n"),
         ["feature 'last_genre' of entity 'user' is also defined in view", "rename one of them"]),
    ],
    # Checked against the Parquet files once the definitions themselves are valid.
    "data": [
        (edit_yaml("      - name: watch_minutes_30d\n",
                   "      - name: favourite_device\n        description: Not produced by the SQL.\n"
                   "        data_type: varchar\n"
                   "      - name: watch_minutes_30d\n"),
         ["model 'user_watch_stats', column 'favourite_device'", "feature column is not in the Parquet file",
          "select that column in models/features/user_watch_stats.sql"]),
    ],
}


def redis_digest(client: redis.Redis) -> str:
    digest = hashlib.sha256()
    for key in sorted(client.scan_iter("*")):
        kind = client.type(key)
        value = sorted(client.hgetall(key).items()) if kind == b"hash" else client.get(key)
        digest.update(repr((key, value)).encode())
    return digest.hexdigest()


@pytest.fixture
def synced(project: BuiltProject, redis_url: str) -> tuple[BuiltProject, redis.Redis]:
    """A private copy, synced once, so a refusal can be shown to leave Redis as it was."""
    assert sync(project, redis_url).returncode == 0
    return project, redis.Redis.from_url(redis_url)


def sync(project: BuiltProject, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync", "--project-dir", str(project.path), "--as-of", project.demo_now.isoformat(),
         "--retries", "0"],
        env={**os.environ, "REDIS_URL": url}, capture_output=True, text=True, cwd=REPO, timeout=120,
    )


@pytest.mark.parametrize("group", list(GROUPS))
def test_broken_definitions_are_refused_and_redis_untouched(group: str, synced, redis_url: str) -> None:
    project, client = synced
    expected = []
    for edit, messages in GROUPS[group]:
        edit(project.path)
        expected += messages
    run_dbt(project.path, "parse")
    before = redis_digest(client)
    result = sync(project, redis_url)
    assert result.returncode == 1, result.stdout
    assert "nothing was synced" in result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    assert "Traceback" not in result.stderr
    assert redis_digest(client) == before


def test_parquet_deleted_after_the_build(synced, redis_url: str) -> None:
    project, client = synced
    project.parquet("user_segment").unlink()
    before = redis_digest(client)
    result = sync(project, redis_url)
    assert result.returncode == 1
    assert "model 'user_segment'" in result.stderr and "run `dbt build --select user_segment`" in result.stderr
    assert redis_digest(client) == before
