"""Running the real `python -m sync` command from tests, and reading its output."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

from tests.conftest import PROJECT_DIR, BuiltProject


def sync_cli(project: BuiltProject, url: str, *args: str, as_of: datetime | None = None,
             **env_vars: str) -> subprocess.CompletedProcess[str]:
    """`python -m sync ARGS` on the project, into `url`, at the project's clock unless `as_of` is given."""
    moment = (as_of or project.demo_now).isoformat()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_CLUSTER"}  # detected unless given
    env.update({"REDIS_URL": url, **env_vars})
    return subprocess.run(
        [sys.executable, "-m", "sync", *args, "--project-dir", str(project.path), "--as-of", moment],
        env=env, capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR,
    )


def synced(project: BuiltProject, url: str, *args: str, **kwargs) -> str:
    """The output of a sync command that must succeed."""
    result = sync_cli(project, url, *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def assert_verified(project: BuiltProject, url: str, as_of: datetime | None = None) -> str:
    result = sync_cli(project, url, "verify", as_of=as_of)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def summary(stdout: str, view: str) -> str:
    """The sync's summary line of one view."""
    return next(line for line in stdout.splitlines() if line.startswith(f"{view}:"))
