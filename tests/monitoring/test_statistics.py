"""Per-sync statistics against an independent computation, on the demo and on generated data,
through the real sync into a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import redis

from bench.sync.generate import VIEWS, change_entities, generate
from feature_store.clock import parse_timestamp
from feature_store.monitoring.profile import ViewMonitoring
from feature_store.online.keys import monitoring_key
from tests.conftest import BuiltProject
from tests.monitoring.expected import assert_profile_describes, population
from tests.reference import latest_rows
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


def reshape(project: BuiltProject, round_number: int, leaving: dict[str, list[int]]) -> None:
    """One round of changes to every view: some entities leave (all their rows removed, plus `leaving`'s), some
    get a new latest row with nulls in every feature now and then, and new entities join."""
    connection = duckdb.connect()
    for name, (_, _, features) in VIEWS.items():
        path = project.parquet(name)
        columns = ", ".join(f"case when (e + v) % 5 = 0 then null else {sql} end as {feature}"
                            for feature, (_, sql) in features.items())
        gone = ", ".join(str(user) for user in leaving.get(name, [])) or "-1"
        connection.execute(f"""
            copy (
                select * from read_parquet('{path}')
                where user_id % 97 <> {round_number} and user_id not in ({gone})
                union all
                select e as user_id, timestamp '2026-11-21' + to_minutes({round_number}) as event_timestamp,
                       {columns}
                from (select user_id as e, 2000 + {round_number} as v from (select distinct user_id
                      from read_parquet('{path}')) where user_id % 29 = {round_number}
                      union all select 50000 + {round_number} * 100 + range, 3000 from range(60))
            ) to '{path}.tmp' (format parquet)
        """)
        Path(f"{path}.tmp").replace(path)


def test_many_incremental_rounds_with_leaving_entities_and_nulls_stay_exact(tmp_path: Path, redis_url) -> None:
    """Statistics kept from a summary of the base and the delta since equal an independent computation after
    every round: entities leaving (among them the ones holding a number's lowest values), joining, changing to
    nulls; through a rewrite of the base; and a `--full` sync recomputing everything agrees."""
    project = BuiltProject(tmp_path / "generated", parse_timestamp("2026-11-27T00:00:00Z"))
    generate(project.path, 15000, 2)  # score and last_title_id: >10,000 values (buckets); the others per value
    state = {"FEATURE_STORE_STATE_DIR": str(tmp_path / "state")}
    synced(project, redis_url, "--force", **state)
    kinds = []
    for round_number in range(1, 6):
        # Round 2: the 40 entities with the lowest scores leave, more than the summary keeps (32).
        leaving = {}
        if round_number == 2:
            rows = latest_rows(project.parquet("bench_profile"), "user_id", "event_timestamp", project.demo_now)
            leaving["bench_profile"] = sorted(
                (user for user, row in rows.items() if row["score"] is not None),
                key=lambda user: rows[user]["score"])[:40]
        reshape(project, round_number, leaving)
        out = synced(project, redis_url, "--force", **state)
        for view, (_, _, features) in VIEWS.items():
            line = summary(out, view)
            kinds.append("incremental" in line)
            latest = published(redis_url, view).latest
            assert latest is not None
            assert_profile_describes(latest, population(project.parquet(view), list(features), project.demo_now))
    assert all(kinds), "every round was an incremental sync"
    deltas = list((tmp_path / "state").glob("*/bench_profile/delta-*.parquet"))
    assert deltas, "the last round's statistics came from a base and a delta"
    kept = json.loads(next((tmp_path / "state").glob("*/bench_last/summary-base.json")).read_text())
    assert kept["exact"] == {"last_title_id": False, "last_rating": True}  # both ways of counting numbers ran
    incremental = {view: published(redis_url, view).latest for view in VIEWS}
    assert all(profile is not None for profile in incremental.values())
    synced(project, redis_url, "--force", "--full", **state)
    for view, (_, _, features) in VIEWS.items():
        full = published(redis_url, view).latest
        before_full = incremental[view]
        assert full is not None and before_full is not None
        assert_profile_describes(full, population(project.parquet(view), list(features), project.demo_now))
        for before, after in zip(before_full.features, full.features, strict=True):
            assert (before.count, before.nulls, before.minimum, before.maximum, before.quantiles, before.distinct,
                    before.top, before.histogram) == (after.count, after.nulls, after.minimum, after.maximum,
                                                      after.quantiles, after.distinct, after.top,
                                                      after.histogram), view
