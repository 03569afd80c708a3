"""The sync refuses a view whose latest dbt tests failed, or that changed since they ran; --force overrides."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import redis

from feature_store.registry.model import FeatureView
from sync import quality_gate
from sync.quality_gate import QualityGateError, judge
from tests.conftest import BuiltProject, demo_vars, run_dbt
from tests.quality.conftest import DbtOutcome, copy_built, sync_cli

VIEW = cast(FeatureView, SimpleNamespace(name="clicks", checksum="sql-1"))  # judge reads only these two


def manifest(*tests: tuple[str, str], contract: str = "contract-1") -> dict[str, Any]:
    """A manifest with model `clicks` and the given (resource_type, name) tests attached to it."""
    model_id = "model.p.clicks"
    nodes: dict[str, Any] = {model_id: {"resource_type": "model", "name": "clicks",
                                        "contract": {"enforced": True, "checksum": contract}}}
    unit_tests: dict[str, Any] = {}
    children = []
    for kind, name in tests:
        unique_id = f"{kind}.p.{name}"
        (unit_tests if kind == "unit_test" else nodes)[unique_id] = {
            "resource_type": kind, "name": name, "unique_id": unique_id}
        children.append(unique_id)
    return {"nodes": nodes, "unit_tests": unit_tests, "child_map": {model_id: children}}


def record(*entries: tuple[str, str, str], checksum: str = "sql-1", contract: str = "contract-1") -> dict[str, Any]:
    """A recorded view: entries are (resource_type, name, status)."""
    return {
        "view": "clicks", "checksum": checksum, "contract_checksum": contract, "command": "build",
        "finished_at": "2026-11-27T12:00:00Z", "invocation_id": "run-1",
        "results": [{"unique_id": f"{kind}.p.{name}", "name": name, "resource_type": kind, "status": status,
                     "message": "Got 2 results, configured to fail if != 0" if status == "fail" else ""}
                    for kind, name, status in entries],
    }


TESTS = (("test", "feature_unique_rows_clicks_"), ("unit_test", "clicks_logic"))


def test_passing_results_at_the_current_checksums_pass() -> None:
    verdict = judge(VIEW, manifest(*TESTS), record(("model", "clicks", "success"),
                                                   ("test", "feature_unique_rows_clicks_", "pass"),
                                                   ("unit_test", "clicks_logic", "pass")))
    assert verdict.ok and verdict.warnings == ()


def test_a_failed_test_is_refused_by_name_with_its_message() -> None:
    verdict = judge(VIEW, manifest(*TESTS), record(("test", "feature_unique_rows_clicks_", "fail"),
                                                   ("unit_test", "clicks_logic", "pass")))
    assert not verdict.ok
    assert verdict.problems == (
        "test feature_unique_rows_clicks_ failed: Got 2 results, configured to fail if != 0 "
        "(build at 2026-11-27T12:00:00Z)",
    )


@pytest.mark.parametrize("status, words", [("error", "errored"), ("skipped", "was skipped")])
def test_errored_and_skipped_tests_are_refused(status: str, words: str) -> None:
    verdict = judge(VIEW, manifest(*TESTS), record(("test", "feature_unique_rows_clicks_", "pass"),
                                                   ("unit_test", "clicks_logic", status)))
    assert not verdict.ok and f"unit test clicks_logic {words}" in verdict.problems[0]


def test_a_warning_passes_with_a_note() -> None:
    verdict = judge(VIEW, manifest(("test", "feature_freshness_clicks_")),
                    record(("test", "feature_freshness_clicks_", "warn")))
    assert verdict.ok and verdict.warnings == ("test feature_freshness_clicks_ warned (no message)",)


def test_a_changed_model_is_not_trusted_however_green_its_old_results() -> None:
    passed = (("test", "feature_unique_rows_clicks_", "pass"), ("unit_test", "clicks_logic", "pass"))
    for changed in (record(*passed, checksum="sql-0"), record(*passed, contract="contract-0")):
        verdict = judge(VIEW, manifest(*TESTS), changed)
        assert not verdict.ok and "its model changed since its tests last ran" in verdict.problems[0]


def test_a_test_without_a_result_is_refused() -> None:
    verdict = judge(VIEW, manifest(*TESTS, ("test", "feature_dtypes_clicks_")),
                    record(("test", "feature_unique_rows_clicks_", "pass"), ("unit_test", "clicks_logic", "pass")))
    assert verdict.problems == ("test feature_dtypes_clicks_ has not run since the model last changed: "
                                "run `dbt build --select clicks`",)


def test_no_record_and_a_failed_build_are_refused() -> None:
    assert "no test results are recorded" in judge(VIEW, manifest(*TESTS), None).problems[0]
    verdict = judge(VIEW, manifest(), record(("model", "clicks", "error")))
    assert verdict.problems[0].startswith("its last build errored")


def test_results_file_missing_or_corrupt(tmp_path: Path) -> None:
    assert quality_gate.load_results(tmp_path / "missing.jsonl") == {}
    corrupt = tmp_path / "feature_test_results.jsonl"
    corrupt.write_text('{"view": "clicks"}\nnot json\n')
    with pytest.raises(QualityGateError, match="line 2 is not valid JSON"):
        quality_gate.load_results(corrupt)


def test_check_raises_naming_every_refusal_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps(manifest(*TESTS)))
    (target / quality_gate.RESULTS_FILE).write_text(json.dumps(record(
        ("test", "feature_unique_rows_clicks_", "fail"), ("unit_test", "clicks_logic", "pass"))) + "\n")
    with pytest.raises(QualityGateError) as refused:
        quality_gate.check(tmp_path, [VIEW])
    assert "clicks: test feature_unique_rows_clicks_ failed" in str(refused.value)
    assert "nothing was synced" in str(refused.value) and "--force" in str(refused.value)
    warnings: list[str] = []
    verdicts = quality_gate.check(tmp_path, [VIEW], force=True, warn=warnings.append)
    assert not verdicts[0].ok
    assert warnings and warnings[0].startswith("warning: --force: publishing 1 feature view(s)")


# --- end to end: `python -m sync` on a project whose dbt tests failed -----------------------------------


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


def test_the_built_project_passes_the_gate(built_project: BuiltProject) -> None:
    from feature_store.registry.manifest import load_registry

    verdicts = quality_gate.check(built_project.path, load_registry(built_project.path).views)
    assert all(verdict.ok for verdict in verdicts)


@pytest.fixture(scope="module")
def gated(damaged_data: DbtOutcome, tmp_path_factory) -> BuiltProject:
    """A copy of the damaged project after its failed `dbt test`, for the sync to refuse."""
    return copy_built(damaged_data.project, tmp_path_factory.mktemp("gated") / "project")


FAILED = (
    "user_segment: test feature_unique_rows_user_segment_ failed: Got 1 result",
    "user_watch_stats: test feature_keys_not_null_user_watch_stats_ failed: Got 1 result",
)


def test_sync_refuses_views_whose_tests_failed(gated, redis_url, client) -> None:
    result = sync_cli(gated, redis_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "quality gate: 2 feature view(s) did not pass their latest dbt tests; nothing was synced" in result.stderr
    for line in FAILED:
        assert line in result.stderr
    assert "user_last_genre:" not in result.stderr  # its tests passed
    assert "Traceback" not in result.stderr
    assert client.dbsize() == 0


def test_force_publishes_with_a_warning(gated, redis_url, client) -> None:
    result = sync_cli(gated, redis_url, "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: --force: publishing 2 feature view(s) that the quality gate refuses" in result.stderr
    for line in FAILED:
        assert line in result.stderr
    assert "note: user_segment: test feature_freshness_user_segment_ warned" in result.stdout
    assert "published registry version" in result.stdout
    assert client.hget("user:1", "user_segment") and client.hget("user:1", "watch_count_30d") is not None


def test_compile_does_not_wash_failures_away(gated, redis_url, tmp_path: Path) -> None:
    project = copy_built(gated, tmp_path / "project")
    run_dbt(project.path, "compile", "--vars", demo_vars(project.demo_now))
    after_compile = json.loads((project.path / "target" / "run_results.json").read_text())
    tests = [r for r in after_compile["results"] if r["unique_id"].startswith("test.feature_store.feature_unique")]
    assert tests and all(r["status"] == "success" for r in tests)  # what run_results.json now claims
    result = sync_cli(project, redis_url)
    assert result.returncode == 1
    for line in FAILED:
        assert line in result.stderr
