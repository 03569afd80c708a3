"""`dbt docs generate` is the feature catalog: every feature's metadata, the exposures, the lineage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feature_store.registry.dtypes import dtype_of_sql_type
from feature_store.registry.durations import format_duration
from feature_store.registry.manifest import load_registry
from feature_store.registry.model import Registry
from tests.conftest import BuiltProject

PROJECT = "feature_store"
API_EXPOSURE = f"exposure.{PROJECT}.feature_retrieval_api"
TRAINING_EXPOSURE = f"exposure.{PROJECT}.llm_recommender_training"


@pytest.fixture(scope="module")
def manifest(docs_project: BuiltProject) -> dict[str, Any]:
    return json.loads(docs_project.manifest.read_text())


@pytest.fixture(scope="module")
def catalog(docs_project: BuiltProject) -> dict[str, Any]:
    return json.loads((docs_project.path / "target" / "catalog.json").read_text())


@pytest.fixture(scope="module")
def registry(docs_project: BuiltProject) -> Registry:
    return load_registry(docs_project.path)


def model(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return manifest["nodes"][f"model.{PROJECT}.{name}"]


def ancestors(manifest: dict[str, Any], unique_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(manifest["parent_map"].get(unique_id, ()))
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(manifest["parent_map"].get(parent, ()))
    return seen


def test_every_feature_carries_its_metadata_in_manifest_and_catalog(registry, manifest, catalog) -> None:
    assert {view.name for view in registry.views} == {"user_last_genre", "user_segment", "user_watch_stats"}
    for view in registry.views:
        node = model(manifest, view.name)
        meta = node["config"]["meta"]
        assert node["description"].strip(), view.name
        assert meta["entity"] == view.entity and meta["owner"] == view.owner
        assert meta["freshness"] == format_duration(view.freshness)
        assert meta.get("ttl") == (format_duration(view.ttl) if view.ttl else None)
        assert meta["entities"][view.entity]["join_key"]
        assert node["contract"]["enforced"] is True, f"{view.name}: the contract must be enforced"
        built = catalog["nodes"][node["unique_id"]]["columns"]
        for column in node["columns"].values():
            assert column["description"].strip(), f"{view.name}.{column['name']} has no description"
            assert column["data_type"], f"{view.name}.{column['name']} has no contract data_type"
        for feature in view.features:
            column = node["columns"][feature.name]
            assert dtype_of_sql_type(column["data_type"]) == feature.dtype, (view.name, feature.name)
            assert feature.name in built, f"catalog.json lacks {view.name}.{feature.name}"
            assert dtype_of_sql_type(built[feature.name]["type"]) == feature.dtype, (view.name, feature.name)


def test_shared_descriptions_come_from_doc_blocks(manifest) -> None:
    user_id = manifest["docs"][f"doc.{PROJECT}.user_id"]["block_contents"].strip()
    for view in ("user_last_genre", "user_segment", "user_watch_stats"):
        assert model(manifest, view)["columns"]["user_id"]["description"].strip() == user_id
    overview = manifest["docs"][f"doc.{PROJECT}.__overview__"]["block_contents"]
    for words in ("feature catalog", "search box", "freshness", "ttl", "owner", "dtype", "lineage", "/catalog",
                  "--force"):
        assert words in overview, f"the overview does not explain {words!r}"


def test_exposures_show_who_uses_each_feature(registry, manifest) -> None:
    exposures = manifest["exposures"]
    api = exposures[API_EXPOSURE]
    assert api["type"] == "application" and api["owner"]["name"] and api["description"].strip()
    served = set(api["depends_on"]["nodes"])
    missing = {view.name for view in registry.views} - {node.split(".")[-1] for node in served}
    assert not missing, f"the API serves every feature view, but its exposure omits {sorted(missing)}"

    training = exposures[TRAINING_EXPOSURE]
    assert training["type"] == "ml"
    assert training["depends_on"]["nodes"] == [f"model.{PROJECT}.recommender_training_set"]
    upstream = ancestors(manifest, TRAINING_EXPOSURE)
    assert {f"model.{PROJECT}.user_segment", f"model.{PROJECT}.user_watch_stats",
            f"model.{PROJECT}.user_last_genre"} <= upstream


def test_lineage_runs_from_the_seeds_through_each_view_to_its_consumers(registry, manifest) -> None:
    for view in registry.views:
        unique_id = f"model.{PROJECT}.{view.name}"
        assert f"seed.{PROJECT}.watch_events" in ancestors(manifest, unique_id), view.name
        consumers = manifest["child_map"][unique_id]
        assert API_EXPOSURE in consumers, f"{view.name} has no consumer exposure"


def test_static_catalog_is_one_file_with_the_metadata_inside(docs_project) -> None:
    page = (docs_project.path / "target" / "static_index.html").read_text()
    for text in ("watch_count_30d", "Titles watched in the 30 days up to event_timestamp.", "feature_retrieval_api",
                 "personalisation"):
        assert text in page
