"""The demo training set as `dbt build` makes it: right by the reference, the same by both
implementations, and guarded by no_future_leakage, which fails on a model that leaks."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from feature_store.registry.manifest import load_registry
from feature_store.registry.model import Registry
from tests.conftest import BuiltProject, demo_vars, run_dbt
from tests.offline.reference import ViewSpec, point_in_time

PICKED = {"user_segment": ("user_segment",), "user_watch_stats": ("watch_count_30d",),
          "user_last_genre": ("last_genre",)}
KEY = ("user_id", "event_timestamp")

LEAKY_MODELS = {
    # The latest row of all, whatever its date: the classic leak.
    "leaks_the_future": """
select spine.*, latest.last_genre, latest.event_timestamp as user_last_genre__event_timestamp
from {{ ref('recommender_spine') }} as spine
left join (
    select user_id, arg_max(last_genre, event_timestamp) as last_genre,
        max(event_timestamp) as event_timestamp
    from {{ ref('user_last_genre') }}
    group by user_id
) as latest on latest.user_id = spine.user_id
""",
    # The first row at or before the spine: never from the future, but older than the 30-day ttl.
    "ignores_the_ttl": """
select spine.*, first_watch.event_timestamp as user_last_genre__event_timestamp
from {{ ref('recommender_spine') }} as spine
left join (
    select user_id, min(event_timestamp) as event_timestamp
    from {{ ref('user_last_genre') }}
    group by user_id
) as first_watch
    on first_watch.user_id = spine.user_id and first_watch.event_timestamp <= spine.event_timestamp
""",
}
LEAKY_YAML = """version: 2
models:
""" + "".join(f"""  - name: {name}
    description: A training set that leaks, to prove the test notices.
    data_tests: [no_future_leakage]
""" for name in LEAKY_MODELS)


def view_specs(registry: Registry) -> list[ViewSpec]:
    specs = []
    for name, features in PICKED.items():
        view = registry.view(name)
        specs.append(ViewSpec(name, registry.entity(view.entity).join_keys, view.timestamp, features,
                              view.ttl, view.created_timestamp))
    return specs


def training_rows(path: Path) -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda row: tuple(row[k] for k in KEY))


@pytest.fixture(scope="module")
def demo(built_project: BuiltProject) -> list[dict]:
    return training_rows(built_project.path / "data" / "training" / "recommender_training_set.parquet")


def test_every_spine_row_appears_once(built_project: BuiltProject, demo):
    spine = pq.read_table(built_project.path / "data" / "training" / "recommender_spine.parquet")
    assert len(demo) == spine.num_rows > 10_000
    assert len({tuple(row[k] for k in KEY) for row in demo}) == len(demo)


def test_demo_training_set_equals_the_reference_on_a_sample(built_project: BuiltProject, demo):
    registry = load_registry(built_project.path)
    histories = []
    for spec in view_specs(registry):
        histories.append((spec, pq.read_table(registry.view(spec.name).location).to_pylist()))
    spine_path = built_project.path / "data" / "training" / "recommender_spine.parquet"
    spine_columns = pq.read_schema(spine_path).names
    sample = random.Random(7).sample(demo, 3000)
    spine = [{column: row[column] for column in spine_columns} for row in sample]
    assert point_in_time(spine, histories) == sample


def test_demo_training_set_is_useful(demo):
    labels = [row["watched_recommended_genre_7d"] for row in demo]
    assert 0 < sum(labels) < len(labels)
    for feature in ("user_segment", "watch_count_30d", "last_genre"):
        assert sum(row[feature] is not None for row in demo) > len(demo) / 2, feature


def test_training_model_refs_its_spine_and_views(built_project: BuiltProject):
    manifest = json.loads(built_project.manifest.read_text())
    node = manifest["nodes"]["model.feature_store.recommender_training_set"]
    assert set(node["depends_on"]["nodes"]) == {
        "model.feature_store.recommender_spine", "model.feature_store.user_segment",
        "model.feature_store.user_watch_stats", "model.feature_store.user_last_genre",
    }
    assert node["config"]["location"] == "data/training/recommender_training_set.parquet"


def test_portable_build_is_identical_and_the_leakage_test_catches_leaks(built_project: BuiltProject, tmp_path,
                                                                        demo):
    project = tmp_path / "project"
    shutil.copytree(built_project.path, project, ignore=shutil.ignore_patterns("training_set"))
    leak_check = project / "models" / "leak_check"
    leak_check.mkdir()
    for name, sql in LEAKY_MODELS.items():
        (leak_check / f"{name}.sql").write_text(sql)
    (leak_check / "_leak_check.yml").write_text(LEAKY_YAML)
    variables = json.loads(demo_vars(built_project.demo_now))
    variables["point_in_time_join_implementation"] = "portable"
    result = run_dbt(project, "build", "--select", "recommender_training_set", "leak_check",
                     "--vars", json.dumps(variables), check=False)
    assert result.returncode != 0  # the leaky models' tests fail

    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    outcomes = {r["unique_id"]: r for r in results}
    for name in LEAKY_MODELS:
        prefix = f"test.feature_store.no_future_leakage_{name}"
        [leak_test] = [r for uid, r in outcomes.items() if uid.startswith(prefix)]
        assert leak_test["status"] == "fail" and leak_test["failures"] > 0, (name, leak_test)
    demo_outcomes = [r for uid, r in outcomes.items() if "recommender_training_set" in uid]
    assert demo_outcomes and all(r["status"] in ("success", "pass") for r in demo_outcomes), demo_outcomes

    assert training_rows(project / "data" / "training" / "recommender_training_set.parquet") == demo
