"""The sync's command line as the benchmarks run it: this interpreter, a project, a pinned clock."""

from __future__ import annotations

import sys
from pathlib import Path


def sync_command(project: Path, as_of: str, *flags: str) -> list[str]:
    """`python -m sync` on `project` at `as_of`, publishing past the quality gate (generated projects
    have no dbt test results)."""
    return [sys.executable, "-m", "sync", "--project-dir", str(project), "--force", "--as-of", as_of, *flags]
