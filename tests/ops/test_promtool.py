"""ops/: the alert rules pass `promtool check rules`, the live /metrics of a synced store passes
`promtool check metrics`, and every metric the rules and the dashboard name is one the API exposes.

promtool comes with Debian's `prometheus` package, installed here when missing (as root, with
apt-get), else the tests skip saying why. FEATURE_STORE_NO_APT=1 skips instead of installing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import httpx
import pytest

from tests.catalog.browser import NO_APT_ENV
from tests.catalog.conftest import catalog_api, docs_project  # noqa: F401 (fixtures: the API over HTTP)
from tests.conftest import PROJECT_DIR
from tests.sync_cli import synced

RULES = PROJECT_DIR / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = PROJECT_DIR / "ops" / "grafana" / "dashboard.json"


def _install() -> str | None:
    """promtool's path, installing the `prometheus` package when it is missing; None when it cannot be had."""
    found = shutil.which("promtool")
    if found or os.environ.get(NO_APT_ENV) or shutil.which("apt-get") is None or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]):
        if subprocess.run(command, env=env, capture_output=True, timeout=1200, check=False).returncode != 0:
            return None
    return shutil.which("promtool")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = _install()
    if path is None:
        pytest.skip("promtool is not installed and could not be (needs root and apt-get, and FEATURE_STORE_NO_APT "
                    "unset): apt-get install prometheus")
    return path


def test_the_alert_rules_pass_promtool(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_live_metrics_pass_promtool_and_hold_every_name_ops_uses(promtool, docs_project, catalog_api,  # noqa: F811
                                                                   redis_url, tmp_path) -> None:
    synced(docs_project, redis_url, FEATURE_STORE_STATE_DIR=str(tmp_path / "state"))
    httpx.get(f"{catalog_api}/features/user/1", timeout=10)  # a request, so the latency histogram has samples
    text = httpx.get(f"{catalog_api}/metrics", timeout=10).text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'feature_api_feature_drift_psi{feature="watch_count_30d",view="user_watch_stats"}' in text
    assert 'feature_api_feature_null_rate{feature="user_segment",view="user_segment"} 0.0' in text
    assert 'feature_api_view_lag_seconds{view="user_watch_stats"}' in text

    exposed = set(re.findall(r"^# TYPE (\w+)", text, re.MULTILINE))
    exposed |= {f"{name}_bucket" for name in exposed}
    used = set(re.findall(r"\bfeature_api_\w+", RULES.read_text()))
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\bfeature_api_\w+", target["expr"]))
    # A counter's TYPE line names it without `_total`, its samples with.
    missing = sorted(name for name in used if name not in exposed and name.removesuffix("_total") not in exposed)
    assert not missing, f"ops/ names metrics /metrics does not expose: {missing}"
