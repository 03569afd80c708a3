"""Per-sync statistics against an independent computation, on the demo and on generated data,
through the real sync into a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from bench.sync.generate import VIEWS, change_entities, generate
from feature_store.clock import parse_timestamp
from feature_store.monitoring.profile import ViewMonitoring
from feature_store.online.keys import monitoring_key
from tests.conftest import BuiltProject
from tests.monitoring.expected import assert_profile_describes, population
from tests.sync_cli import summary, synced

DEMO_VIEWS = {
    "user_last_genre": (["last_genre", "last_title_id"], "loaded_at"),
    "user_segment": (["user_segment", "is_active_7d"], None),
    "user_watch_stats": (["watch_count_30d", "watch_minutes_30d", "avg_minutes_per_title_30d"], None),
}


def published(url: str, view: str) -> ViewMonitoring:
    raw = redis.Redis.from_url(url).get(monitoring_key("", view))
    assert raw, f"no monitoring published for {view}"
    return ViewMonitoring.from_json(raw)


def test_statistics_of_the_demo_equal_an_independent_computation(built_project: BuiltProject, redis_url) -> None:
    out = synced(built_project, redis_url)
    for view, (features, created) in DEMO_VIEWS.items():
        assert "statistics" in summary(out, view)
        latest = published(redis_url, view).latest
        assert latest is not None and [s.name for s in latest.features] == features
        assert_profile_describes(latest, population(built_project.parquet(view), features, built_project.demo_now,
                                                    created))
    # The training set reference of user_watch_stats is read: its features are judged, not "no reference".
    watch_stats = published(redis_url, "user_watch_stats").latest
    assert watch_stats is not None
    drift = watch_stats.drift_of("watch_count_30d")
    assert drift is not None and drift.psi is not None and drift.reference_null_rate is not None


def test_incremental_statistics_describe_the_whole_population(tmp_path: Path, redis_url) -> None:
    project = BuiltProject(tmp_path / "generated", parse_timestamp("2026-11-27T00:00:00Z"))
    generate(project.path, 3000, 3)
    state = {"FEATURE_STORE_STATE_DIR": str(tmp_path / "state")}
    synced(project, redis_url, "--force", **state)
    first = {view: published(redis_url, view) for view in VIEWS}
    change_entities(project.path, 0.05, offset=1)  # a new latest row for 5% of entities
    out = synced(project, redis_url, "--force", **state)
    for view, (_, _, features) in VIEWS.items():
        assert "incremental sync" in summary(out, view)
        kept = published(redis_url, view)
        assert len(kept.syncs) == 2 and kept.syncs[0] == first[view].latest
        assert_profile_describes(kept.syncs[-1], population(project.parquet(view), list(features), project.demo_now))
    on_disk = json.loads(next((tmp_path / "state").glob("*/monitoring/bench_profile.json")).read_text())
    assert len(on_disk["syncs"]) == 2  # kept with the record too
