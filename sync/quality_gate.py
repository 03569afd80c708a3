"""The quality gate: the sync publishes a feature view only when its latest dbt tests passed.

Evidence comes from `target/feature_test_results.jsonl`, which an on-run-end hook
(macros/record_feature_test_results.sql) rewrites after every `dbt build` and
`dbt test`, and never after other commands. `run_results.json` cannot be used: it
holds the last command only, and `dbt compile` or `dbt docs generate` rewrite it
listing tests as successful that never ran. Each line holds one view's latest
result per test, with the checksums of the model (its SQL) and of its contract
(its columns' data types) that they were about.

A view passes when:
  - its recorded checksums are the manifest's (a model changed since its tests
    ran is not trusted, however green its old results);
  - every test and unit test that the manifest attaches to it now has a result
    at those checksums, and none failed, errored or was skipped; a `warn` (the
    freshness test's severity) passes, with a note. A generic test whose
    arguments changed has a new id, so it has no result yet either;
  - its model's own result, where the run built it, was a success.

`--force` publishes anyway, with a warning naming what failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feature_store.errors import FeatureStoreError
from feature_store.registry.manifest import default_manifest_path
from feature_store.registry.model import FeatureView

RESULTS_FILE = "feature_test_results.jsonl"
PASSED = frozenset({"pass", "success"})
WARNED = frozenset({"warn"})
TEST_TYPES = ("test", "unit_test")


class QualityGateError(FeatureStoreError):
    """A view's latest tests failed, or it has not been tested since its model changed."""


@dataclass(frozen=True)
class Verdict:
    view: str
    problems: tuple[str, ...]  # each one refuses the view
    warnings: tuple[str, ...]  # tests that warned: the view passes

    @property
    def ok(self) -> bool:
        return not self.problems


def results_path(project_dir: Path, manifest_path: Path | None = None) -> Path:
    """The results file beside the manifest (both live in dbt's target folder)."""
    return (manifest_path or default_manifest_path(project_dir)).parent / RESULTS_FILE


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """The recorded results by view name; empty when no build or test has run yet."""
    if not path.exists():
        return {}
    records: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise QualityGateError(
                f"{path} line {number} is not valid JSON ({error}): run `dbt build` to rewrite it"
            ) from error
        if isinstance(record, dict) and record.get("view"):
            records[str(record["view"])] = record
    return records


def _lines(path: Path) -> list[str]:
    """The record's lines. On Spark the hook writes a text table at the path: a folder whose part
    files hold the lines (its `_SUCCESS` and hidden `.crc` files are left out)."""
    if not path.is_dir():
        return path.read_text().splitlines()
    parts = sorted(part for part in path.iterdir() if part.is_file() and not part.name.startswith(("_", ".")))
    return [line for part in parts for line in part.read_text().splitlines()]


def attached_tests(manifest: dict[str, Any], view: str) -> list[dict[str, Any]]:
    """The tests and unit tests the manifest attaches to a view now (its model's children)."""
    model_ids = [
        unique_id for unique_id, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "model" and node.get("name") == view
    ]
    children = {child for model_id in model_ids for child in manifest.get("child_map", {}).get(model_id, ())}
    tests = []
    for unique_id in sorted(children):
        node = manifest.get("nodes", {}).get(unique_id) or manifest.get("unit_tests", {}).get(unique_id)
        if node and node.get("resource_type") in TEST_TYPES:
            tests.append(node)
    return tests


def model_node(manifest: dict[str, Any], view: str) -> dict[str, Any]:
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == view:
            return node
    return {}


def judge(view: FeatureView, manifest: dict[str, Any], record: dict[str, Any] | None) -> Verdict:
    rebuild = f"run `dbt build --select {view.name}`"
    if record is None:
        return Verdict(view.name, (f"no test results are recorded: {rebuild} (or `dbt test`)",), ())
    when = f"{record.get('command', 'dbt')} at {record.get('finished_at', '?')}"
    contract = (model_node(manifest, view.name).get("contract") or {}).get("checksum") or ""
    if record.get("checksum") != view.checksum or (record.get("contract_checksum") or "") != contract:
        return Verdict(view.name, (
            f"its model changed since its tests last ran ({when}), so they say nothing about it: {rebuild}",
        ), ())
    results = {entry.get("unique_id"): entry for entry in record.get("results") or () if isinstance(entry, dict)}
    problems: list[str] = []
    warnings: list[str] = []
    for entry in results.values():
        if entry.get("resource_type") == "model" and entry.get("status") not in PASSED:
            problems.append(f"its last build {_outcome(entry)}: {rebuild}")
    for test in attached_tests(manifest, view.name):
        kind = "unit test" if test["resource_type"] == "unit_test" else "test"
        result = results.get(test["unique_id"])
        if result is None:
            problems.append(f"{kind} {test['name']} has not run since the model last changed: {rebuild}")
        elif result.get("status") in WARNED:
            warnings.append(f"{kind} {test['name']} warned ({_message(result)})")
        elif result.get("status") not in PASSED:
            problems.append(f"{kind} {test['name']} {_outcome(result)} ({when})")
    return Verdict(view.name, tuple(problems), tuple(warnings))


def _message(entry: dict[str, Any]) -> str:
    lines = [line.strip() for line in str(entry.get("message") or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else "no message"


def _outcome(entry: dict[str, Any]) -> str:
    status = str(entry.get("status") or "unknown")
    words = {"fail": "failed", "error": "errored", "skipped": "was skipped"}
    text = words.get(status, f"ended with status {status!r}")
    return text if status == "skipped" else f"{text}: {_message(entry)}"


def check(
    project_dir: Path,
    views: Iterable[FeatureView],
    manifest_path: Path | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
) -> tuple[Verdict, ...]:
    """Judge every view; raise QualityGateError naming what failed, unless `force`."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    path = manifest_path or default_manifest_path(project_dir)
    manifest = json.loads(path.read_text())
    records = load_results(results_path(project_dir, manifest_path))
    verdicts = tuple(judge(view, manifest, records.get(view.name)) for view in views)
    for verdict in verdicts:
        for note in verdict.warnings:
            say(f"note: {verdict.view}: {note}")
    refused = [verdict for verdict in verdicts if not verdict.ok]
    if not refused:
        return verdicts
    lines = "\n".join(f"  - {v.view}: {problem}" for v in refused for problem in v.problems)
    if force:
        warn(f"warning: --force: publishing {len(refused)} feature view(s) that the quality gate refuses:\n{lines}")
        return verdicts
    raise QualityGateError(
        f"quality gate: {len(refused)} feature view(s) did not pass their latest dbt tests; nothing was synced:\n"
        f"{lines}\nFix the data or the model and run `dbt build`, sync the other views with --select, "
        "or pass --force to publish anyway."
    )
