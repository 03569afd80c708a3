"""Drift: a shifted distribution crosses its threshold, a resampled one does not; `monitor`'s exit codes and
schema change reports through the real sync and a real redis-server."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feature_store.monitoring.drift import judge, psi, schema_changes
from feature_store.monitoring.profile import Histogram
from feature_store.offline.statistics import feature_statistics
from feature_store.registry.model import Feature
from tests.conftest import BuiltProject
from tests.sync_cli import sync_cli, synced

FEATURES = [Feature("amount", "float64", "v"), Feature("plan", "string", "v"), Feature("active", "bool", "v")]


def sample(seed: int, mean: float, plans: str, active: float) -> str:
    """50,000 rows drawn at random: amount ~ Normal(mean, 10), a plan from `plans`' letters, active w.p. `active`."""
    return (f"select {mean} + 10 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()) as amount, "
            f"substr('{plans}', 1 + floor(random() * {len(plans)})::int, 1) as plan, random() < {active} as active "
            f"from (select setseed({seed / 100}) ) as s, range(50000)")


def described(sql: str, reference=None):
    connection = duckdb.connect()
    connection.execute(f"create table t as {sql}")
    return {s.name: s for s in feature_statistics(connection, "select * from t", FEATURES, reference)}


def test_a_shifted_distribution_crosses_the_threshold_and_a_resampled_one_does_not() -> None:
    reference = described(sample(1, 50, "aaabbc", 0.3))
    resampled = described(sample(2, 50, "aaabbc", 0.3), reference)
    shifted = described(sample(3, 58, "abcccc", 0.6), reference)
    for name in ("amount", "plan", "active"):
        calm = judge(resampled[name], reference[name], 0.25, 0.1)
        moved = judge(shifted[name], reference[name], 0.25, 0.1)
        assert calm.psi is not None and calm.psi < 0.01 and calm.verdict == "ok", (name, calm)
        assert moved.psi is not None and moved.psi >= 0.25 and moved.verdict == "drift", (name, moved)


def test_psi_follows_its_formula() -> None:
    reference, current = Histogram((50, 50)), Histogram((80, 20))
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(current, reference) == pytest.approx(expected)
    assert psi(Histogram((100, 0)), Histogram((50, 50))) == pytest.approx(
        (1 - 0.5) * math.log(1 / 0.5) + (0.0001 - 0.5) * math.log(0.0001 / 0.5))
    with pytest.raises(ValueError, match="different bins"):
        psi(Histogram((1, 2, 3)), Histogram((1, 2)))


def test_a_null_rate_rise_crosses_its_threshold() -> None:
    reference = described(sample(1, 50, "ab", 0.3))
    nulls = described(f"select case when random() < 0.3 then null else amount end as amount, plan, active "
                      f"from ({sample(2, 50, 'ab', 0.3)})", reference)
    assert judge(nulls["amount"], reference["amount"], 0.25, 0.1).verdict == "null rate"


def test_schema_changes_are_added_removed_and_retyped() -> None:
    changes = schema_changes({"a": "int64", "b": "string", "c": "bool"}, {"a": "float64", "c": "bool", "d": "string"})
    assert sorted(c.describe() for c in changes) == ["a retyped int64 -> float64", "b removed (string)",
                                                     "d added (string)"]
    assert schema_changes(None, {"a": "int64"}) == ()


def shift_watch_counts(project: BuiltProject, factor: int) -> None:
    """Give every user a new latest row of user_watch_stats with watch_count_30d multiplied (dated an hour ago)."""
    path = project.parquet("user_watch_stats")
    table = pq.read_table(path)
    latest = {row["user_id"]: row for row in table.to_pylist()
              if row["event_timestamp"] <= project.demo_now.replace(tzinfo=None)}
    stamp = project.demo_now.replace(tzinfo=None, minute=0) - timedelta(hours=1)
    rows = [{**row, "event_timestamp": stamp, "watch_count_30d": (row["watch_count_30d"] or 0) * factor + 5}
            for row in latest.values()]
    pq.write_table(pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)]), path)


def use_previous_sync_as_reference(project: BuiltProject) -> None:
    document = json.loads(project.manifest.read_text())
    node = document["nodes"]["model.feature_store.user_watch_stats"]
    node["config"]["meta"]["monitor"] = {"reference": {"sync": "previous"}, "drift_threshold": 0.25}
    project.manifest.write_text(json.dumps(document))


def test_monitor_exits_non_zero_when_a_threshold_is_crossed_and_the_sync_warns(project, redis_url) -> None:
    use_previous_sync_as_reference(project)
    first = synced(project, redis_url)
    assert "warning" not in first
    calm = sync_cli(project, redis_url, "monitor", "--select", "user_watch_stats")
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "watch_count_30d" in calm.stdout and "no reference" in calm.stdout  # the first sync has none before it

    shift_watch_counts(project, 3)
    shifted = synced(project, redis_url)
    assert "warning: monitoring found" in shifted
    assert "user_watch_stats.watch_count_30d: drift against sync:previous" in shifted
    crossed = sync_cli(project, redis_url, "monitor", "--select", "user_watch_stats")
    assert crossed.returncode == 1, crossed.stdout + crossed.stderr
    line = next(line for line in crossed.stdout.splitlines() if line.strip().startswith("watch_count_30d"))
    assert line.split()[-1] == "drift" and float(line.split()[-2]) >= 0.25

    again = synced(project, redis_url)  # nothing new: the same population as its reference
    assert "warning" not in again
    assert sync_cli(project, redis_url, "monitor", "--select", "user_watch_stats").returncode == 0


def test_a_removed_feature_is_reported_as_a_schema_change(project, redis_url) -> None:
    synced(project, redis_url)
    document = json.loads(project.manifest.read_text())
    del document["nodes"]["model.feature_store.user_watch_stats"]["columns"]["avg_minutes_per_title_30d"]
    project.manifest.write_text(json.dumps(document))
    out = synced(project, redis_url)
    assert "user_watch_stats: schema change: avg_minutes_per_title_30d removed (float64)" in out
    report = sync_cli(project, redis_url, "monitor", "--select", "user_watch_stats")
    assert report.returncode == 1 and "schema change: avg_minutes_per_title_30d removed (float64)" in report.stdout
