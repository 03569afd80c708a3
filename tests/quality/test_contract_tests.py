"""The feature-contract tests (macros/tests/) and model contracts: green on good data, red on bad data."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from sync import quality_gate
from tests.conftest import BuiltProject
from tests.quality.conftest import CONTRACT_TESTS, FEATURE_VIEWS, copy_built, dbt_outcome, recorded


def test_every_feature_view_takes_every_contract_test(built_project: BuiltProject) -> None:
    manifest = json.loads(built_project.manifest.read_text())
    for view in FEATURE_VIEWS:
        tests = {
            manifest["nodes"][child]["test_metadata"]["name"]
            for child in manifest["child_map"][f"model.feature_store.{view}"]
            if child.startswith("test.") and manifest["nodes"][child].get("test_metadata")
        }
        assert set(CONTRACT_TESTS) <= tests, f"{view} lacks {set(CONTRACT_TESTS) - tests}"
        units = [u for u in manifest["unit_tests"].values() if u["model"] == view]
        assert units, f"{view} has no unit test"


def test_the_built_project_passes_every_contract_test(built_project: BuiltProject) -> None:
    records = recorded(built_project)
    assert set(records) == set(FEATURE_VIEWS)
    for view, record in records.items():
        statuses = {entry["name"]: entry["status"] for entry in record["results"]}
        for test in CONTRACT_TESTS:
            assert statuses[f"{test}_{view}_"] == "pass", (view, test, statuses)
        assert all(status in ("pass", "success") for status in statuses.values()), statuses
        assert record["command"] == "build"


def test_a_duplicate_row_fails_feature_unique_rows(damaged_data) -> None:
    assert damaged_data.status("feature_unique_rows_user_segment_") == "fail"
    assert damaged_data.result("feature_unique_rows_user_segment_")["failures"] == 1
    assert damaged_data.status("feature_keys_not_null_user_segment_") == "pass"
    assert damaged_data.status("feature_dtypes_user_segment_") == "pass"


def test_a_null_key_fails_feature_keys_not_null(damaged_data) -> None:
    assert damaged_data.status("feature_keys_not_null_user_watch_stats_") == "fail"
    assert damaged_data.result("feature_keys_not_null_user_watch_stats_")["failures"] == 1
    assert damaged_data.status("feature_unique_rows_user_watch_stats_") == "pass"
    assert damaged_data.status("feature_dtypes_user_watch_stats_") == "pass"
    assert damaged_data.status("feature_freshness_user_watch_stats_") == "pass"


def test_a_stale_view_warns_feature_freshness(damaged_data) -> None:
    assert damaged_data.status("feature_freshness_user_segment_") == "warn"
    assert damaged_data.status("feature_freshness_user_last_genre_") == "pass"
    assert all(damaged_data.status(f"{test}_user_last_genre_") == "pass" for test in CONTRACT_TESTS)


def test_failures_are_recorded_per_view_and_merged_with_earlier_results(damaged_data, built_project) -> None:
    before, after = recorded(built_project), recorded(damaged_data.project)
    segment = {entry["name"]: entry for entry in after["user_segment"]["results"]}
    assert segment["feature_unique_rows_user_segment_"]["status"] == "fail"
    assert "Got 1 result" in segment["feature_unique_rows_user_segment_"]["message"]
    assert segment["feature_freshness_user_segment_"]["status"] == "warn"
    # `dbt test` ran the data tests only: the unit tests keep the build's results, at the same checksum.
    unit = segment["user_segment_thresholds"]
    assert unit["status"] == "pass" and unit["invocation_id"] == before["user_segment"]["invocation_id"]
    assert after["user_segment"]["invocation_id"] != before["user_segment"]["invocation_id"]
    assert after["user_segment"]["checksum"] == before["user_segment"]["checksum"]
    assert after["user_segment"]["command"] == "test"


@pytest.fixture(scope="module")
def broken_definitions(built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory):
    """One build of the feature views whose definitions break the contract (data tests only):

    - user_watch_stats' SQL makes watch_count_30d an integer while its contract says bigint;
    - user_segment's YAML writes dtype string on is_active_7d, whose data_type (and the model) say boolean;
    - user_last_genre, its contract switched off, builds last_title_id (data_type bigint, so int64) as text,
      declares last_genre as a date, which is no feature type, and writes a dtype on loaded_at, no feature.
    """
    project = copy_built(built_project, tmp_path_factory.mktemp("broken-definitions") / "project")
    features = project.path / "models" / "features"
    edit(features / "user_watch_stats.sql", "cast(watch_count_30d as bigint) as watch_count_30d",
         "cast(watch_count_30d as integer) as watch_count_30d")
    edit(features / "user_last_genre.sql", "cast(last_title_id as bigint) as last_title_id",
         "cast(last_title_id as varchar) as last_title_id")
    yaml = features / "_features.yml"
    edit(yaml, "        data_type: boolean\n",
         "        data_type: boolean\n        config:\n          meta: {dtype: string}\n")
    edit(yaml, "Genre of the title watched last.\n        data_type: string\n",
         "Genre of the title watched last.\n        data_type: date\n")
    edit(yaml, "doc('loaded_at') }}\"\n        data_type: timestamp\n",
         "doc('loaded_at') }}\"\n        data_type: timestamp\n        config:\n          meta: {dtype: timestamp}\n")
    edit(yaml, "      location: data/features/user_last_genre.parquet\n",
         "      location: data/features/user_last_genre.parquet\n      contract: {enforced: false}\n")
    return dbt_outcome(project, "build", "--select", *FEATURE_VIEWS, "--exclude", "test_type:unit")


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new))


def test_a_type_change_fails_the_build(broken_definitions) -> None:
    model = broken_definitions.result("user_watch_stats")
    assert model["status"] == "error"
    assert "contract" in model["message"] and "watch_count_30d" in model["message"], model["message"]
    assert broken_definitions.status("feature_dtypes_user_watch_stats_") == "skipped"


def test_a_wrong_type_fails_feature_dtypes(broken_definitions) -> None:
    # last_title_id is built as VARCHAR, which does not hold int64, the dtype of its data_type bigint;
    # last_genre's data_type date maps to no dtype; loaded_at, the created timestamp, is no feature to type.
    assert broken_definitions.status("user_last_genre") == "success"
    assert broken_definitions.status("feature_dtypes_user_last_genre_") == "fail"
    assert broken_definitions.result("feature_dtypes_user_last_genre_")["failures"] == 3
    assert broken_definitions.status("feature_unique_rows_user_last_genre_") == "pass"


def test_a_written_dtype_must_agree_with_the_data_type(broken_definitions) -> None:
    # is_active_7d: its meta dtype string disagrees with bool, the dtype of its data_type boolean (as built).
    assert broken_definitions.status("user_segment") == "success"
    assert broken_definitions.status("feature_dtypes_user_segment_") == "fail"
    assert broken_definitions.result("feature_dtypes_user_segment_")["failures"] == 1


def test_a_failed_build_is_refused_by_the_gate(broken_definitions) -> None:
    manifest = json.loads((broken_definitions.path / "target" / "manifest.json").read_text())
    record = recorded(broken_definitions.project)["user_watch_stats"]
    checksum = manifest["nodes"]["model.feature_store.user_watch_stats"]["checksum"]["checksum"]
    view = SimpleNamespace(name="user_watch_stats", checksum=checksum)
    verdict = quality_gate.judge(view, manifest, record)  # type: ignore[arg-type]
    assert not verdict.ok
    assert any(problem.startswith("its last build errored") for problem in verdict.problems), verdict.problems
    assert any("feature_dtypes_user_watch_stats_ was skipped" in problem for problem in verdict.problems)
