"""Catalog fixtures: the docs of the built project, the API serving them, headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.catalog import browser
from tests.conftest import PROJECT_DIR, BuiltProject, demo_vars, run_dbt

ARTIFACTS = PROJECT_DIR / "test-artifacts"


@pytest.fixture(scope="session")
def docs_project(built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """A copy of the built project after `dbt docs generate --static` (catalog.json, static_index.html)."""
    copy = tmp_path_factory.mktemp("docs") / "project"
    shutil.copytree(built_project.path, copy)
    run_dbt(copy, "docs", "generate", "--static", "--vars", demo_vars(built_project.demo_now))
    return BuiltProject(copy, built_project.demo_now)


@pytest.fixture(scope="session")
def chromium() -> browser.Chromium:
    found = browser.ensure()
    if isinstance(found, str):
        pytest.skip(f"no headless Chromium: {found}")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed: pip install -r requirements.txt")
    return found


@pytest.fixture
def artifacts() -> Path:
    """test-artifacts/ at the project root (gitignored): screenshots a reader can look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def catalog_api(docs_project: BuiltProject, redis_url: str) -> Iterator[str]:
    """`python -m api` on a free port, serving the docs project's catalog; yields its base URL."""
    from feature_store.online.embedded.server import free_port

    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url,
           "FEATURE_STORE_CATALOG": str(docs_project.path / "target" / "static_index.html")}
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"python -m api did not start on {base}:\n{output[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
