"""The catalog works straight after a clone: `dbt docs generate` compiles every model before anything is built.

A model that queried the database while compiling (dbt.date_spine does, to count its periods) would fail
here with "Table ... does not exist".
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import copy_project, run_dbt

PROJECT = "feature_store"


def test_docs_generate_needs_no_build(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    assert not (project / "target").exists(), "the copy must start unbuilt, as a clone does"

    result = run_dbt(project, "docs", "generate", check=False)
    assert result.returncode == 0, f"dbt docs generate failed on an unbuilt project:\n{result.stdout[-4000:]}"

    manifest = json.loads((project / "target" / "manifest.json").read_text())
    models = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    for name in ("recommender_spine", "user_segment"):
        assert models[name]["compiled_code"].strip(), f"{name} was not compiled"
    catalog = json.loads((project / "target" / "catalog.json").read_text())
    assert not catalog["nodes"], "nothing is built, so the catalog lists no tables"
