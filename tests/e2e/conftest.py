"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import BuiltProject


@pytest.fixture
def project(built_project: BuiltProject, tmp_path: Path) -> BuiltProject:
    """A private copy of the built project, whose data and definitions a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(built_project.path, copy, ignore=shutil.ignore_patterns("*.duckdb*", "sync_state"))
    return BuiltProject(copy, built_project.demo_now)
