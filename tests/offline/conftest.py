"""Fixtures of the offline-store tests.

A small project of feature views (tests/offline/pit_project plus the repository's
point_in_time macros) is parsed by real dbt once; the point-in-time join is rendered
from its manifest once per implementation, as the ad-hoc path renders it (and held to
what dbt compiles by test_point_in_time_compile.py), and every case then runs that SQL
in real DuckDB over Parquet files it writes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_store.offline.training_compile import CompiledJoin, JoinRequest, join_macro_files, render_join
from feature_store.registry.manifest import read_manifest
from tests.conftest import PROJECT_DIR
from tests.offline.pit_fixture import (
    FIXTURE_PROJECT,
    IMPLEMENTATIONS,
    SELECTION,
    SPINE_SCHEMA,
    CaseRunner,
)


@pytest.fixture(scope="session")
def pit_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A parsed copy of the fixture project, with the repository's point_in_time macros (and the
    feature-view reader they share with the contract tests)."""
    from dbt.cli.main import dbtRunner

    project = tmp_path_factory.mktemp("pit") / "project"
    shutil.copytree(FIXTURE_PROJECT, project)
    (project / "macros").mkdir()
    for macro in join_macro_files(PROJECT_DIR / "macros"):
        shutil.copy2(macro, project / "macros" / macro.name)
    (project / "data").mkdir()
    result = dbtRunner().invoke([
        "parse", "--project-dir", str(project), "--profiles-dir", str(project / "profiles"),
        "--log-path", str(project / "logs"), "--log-level", "none", "--no-version-check",
        "--no-send-anonymous-usage-stats",
    ])
    assert result.success, result.exception
    return project


@pytest.fixture(scope="session")
def joins(pit_project: Path) -> dict[str, CompiledJoin]:
    """The join of all four views, rendered from the manifest once per implementation."""
    manifest = read_manifest(pit_project)
    return {
        implementation: render_join(manifest, pit_project, JoinRequest(SELECTION, implementation=implementation),
                                    SPINE_SCHEMA.names)
        for implementation in IMPLEMENTATIONS
    }


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseRunner]:
    case_runner = CaseRunner(tmp_path_factory.mktemp("cases"))
    yield case_runner
    case_runner.close()
