"""The registry contract: what a valid definition gives, and each refusal with its message."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feature_store.errors import DefinitionErrors, ManifestNotFound
from feature_store.registry.dtypes import dtype_of_sql_type
from feature_store.registry.manifest import SUPPORTED_MANIFEST, load_registry, registry_from_manifest
from feature_store.registry.model import Registry

ENTITIES = {"user": {"join_key": "user_id", "dtype": "int64", "description": "A subscriber."}}


def column(name: str, data_type: str | None = None, **meta: Any) -> dict[str, Any]:
    return {"name": name, "description": f"{name} described", "data_type": data_type,
            "meta": meta, "config": {"meta": meta}}


def view_node(name: str, meta: dict[str, Any], columns: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    full_meta = {"entities": ENTITIES, **meta}
    return {
        "resource_type": "model",
        "name": name,
        "description": f"The {name} view.",
        "tags": ["hourly"],
        "checksum": {"name": "sha256", "checksum": "abc"},
        "config": {"meta": full_meta, "location": f"data/features/{name}.parquet", **config},
        "meta": full_meta,
        "columns": {c["name"]: c for c in columns},
    }


def good_meta(**overrides: Any) -> dict[str, Any]:
    return {"entity": "user", "timestamp": "event_timestamp", "freshness": "1h", "ttl": "30d",
            "owner": "growth", **overrides}


def manifest(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"dbt_schema_version": SUPPORTED_MANIFEST, "project_name": "feature_store"},
        "nodes": {f"model.feature_store.{n['name']}": n for n in nodes},
    }


def stats_view(**meta: Any) -> dict[str, Any]:
    return view_node("user_stats", good_meta(**meta),
                     [column("user_id", "bigint"), column("event_timestamp", "timestamp"),
                      column("watch_count_30d", "bigint")])


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(document, Path("/project"))
    return str(caught.value)


def test_valid_definition_builds_frozen_registry() -> None:
    registry = registry_from_manifest(manifest(stats_view(created_timestamp="loaded_at")), Path("/project"))
    view = registry.view("user_stats")
    assert view.entity == "user"
    assert view.freshness == timedelta(hours=1)
    assert view.ttl == timedelta(days=30)
    assert view.created_timestamp == "loaded_at"
    assert view.location == "/project/data/features/user_stats.parquet"
    assert view.checksum == "abc"
    assert registry.entity("user").join_keys == ("user_id",)
    assert registry.features_of("user")["watch_count_30d"].dtype == "int64"
    with pytest.raises(AttributeError):
        view.ttl = None  # type: ignore[misc]


def test_snapshot_round_trips_through_json() -> None:
    registry = registry_from_manifest(manifest(stats_view()), Path("/project"))
    assert Registry.from_json(registry.to_json()) == registry


def test_ttl_is_optional() -> None:
    meta = good_meta()
    del meta["ttl"]
    node = view_node("user_stats", meta, [column("user_id"), column("n", "bigint")])
    assert registry_from_manifest(manifest(node), Path("/p")).view("user_stats").ttl is None


def test_models_without_feature_meta_are_not_views() -> None:
    plain = {"resource_type": "model", "name": "stg_users", "config": {"meta": {}}, "columns": {}}
    registry = registry_from_manifest(manifest(stats_view(), plain), Path("/p"))
    assert [v.name for v in registry.views] == ["user_stats"]


def test_missing_entity() -> None:
    meta = good_meta()
    del meta["entity"]
    message = refusal(manifest(view_node("user_stats", meta, [column("n", "bigint")])))
    assert "model 'user_stats'" in message and "no `entity`" in message and "user" in message


def test_unknown_entity_lists_declared_ones() -> None:
    message = refusal(manifest(stats_view(entity="customer")))
    assert "unknown entity 'customer'" in message and "use one of: user" in message


def test_duplicate_feature_name_for_one_entity() -> None:
    other = view_node("user_other", good_meta(), [column("watch_count_30d", "bigint")])
    message = refusal(manifest(stats_view(), other))
    assert "feature 'watch_count_30d' of entity 'user' is also defined in view" in message
    assert "rename one of them" in message


@pytest.mark.parametrize("key,value", [("freshness", "1 hour"), ("ttl", "30days"), ("freshness", "0h"),
                                       ("ttl", "-1d")])
def test_invalid_duration(key: str, value: str) -> None:
    message = refusal(manifest(stats_view(**{key: value})))
    assert f"`{key}`: invalid duration" in message and "30s, 5m, 1h, 1d" in message


@pytest.mark.parametrize("missing,expected", [
    ("freshness", "no `freshness`"), ("timestamp", "no `timestamp`"), ("owner", "no `owner`"),
])
def test_missing_required_meta(missing: str, expected: str) -> None:
    meta = good_meta()
    del meta[missing]
    message = refusal(manifest(view_node("user_stats", meta, [column("n", "bigint")])))
    assert expected in message and "model 'user_stats'" in message


def test_missing_location() -> None:
    node = stats_view()
    del node["config"]["location"]
    assert "add `location: data/features/user_stats.parquet`" in refusal(manifest(node))


def test_missing_description() -> None:
    node = stats_view()
    node["description"] = ""
    assert "no description" in refusal(manifest(node))


def test_view_without_features() -> None:
    node = view_node("user_stats", good_meta(), [column("user_id", "bigint"), column("event_timestamp", "timestamp"),
                                                 column("note", "varchar", feature=False)])
    message = refusal(manifest(node))
    assert "no feature columns" in message and "contract `data_type`" in message


def test_conflicting_entity_declarations() -> None:
    other = stats_view()
    other = copy.deepcopy(other)
    other["name"] = "user_other"
    other["columns"] = {"m": column("m", "bigint")}
    other["config"]["meta"]["entities"] = {"user": {"join_key": "uid", "dtype": "int64"}}
    assert "declared differently" in refusal(manifest(stats_view(), other))


def test_every_problem_is_reported_at_once() -> None:
    bad = view_node("user_bad", good_meta(freshness="soon"), [column("x", "decimal")])
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(manifest(bad), Path("/p"))
    errors = caught.value.errors
    assert {e.column for e in errors} == {None, "x"}
    assert len(errors) == 2


def test_no_manifest_says_run_dbt(tmp_path: Path) -> None:
    with pytest.raises(ManifestNotFound, match="run `dbt build`"):
        load_registry(tmp_path)


def test_manifest_from_another_dbt_version(tmp_path: Path) -> None:
    document = manifest(stats_view())
    document["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v11.json"
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(ManifestNotFound, match="not supported"):
        load_registry(tmp_path)


def features_of(*columns: dict[str, Any], **meta: Any) -> dict[str, str]:
    """The features (name -> dtype) of a valid view of `columns`."""
    registry = registry_from_manifest(manifest(view_node("user_stats", good_meta(**meta), list(columns))), Path("/p"))
    return {feature.name: feature.dtype for feature in registry.view("user_stats").features}


@pytest.mark.parametrize("data_type,dtype", [
    ("bigint", "int64"), ("BIGINT", "int64"), ("integer", "int64"), ("int", "int64"), ("smallint", "int64"),
    ("tinyint", "int64"), ("long", "int64"),
    ("double", "float64"), ("DOUBLE", "float64"), ("float", "float64"), ("real", "float64"),
    ("double precision", "float64"),
    ("varchar", "string"), ("VARCHAR", "string"), ("varchar(20)", "string"), ("string", "string"), ("text", "string"),
    ("boolean", "bool"), ("BOOLEAN", "bool"),
    ("timestamp", "timestamp"), ("TIMESTAMP", "timestamp"), ("timestamptz", "timestamp"),
    ("timestamp with time zone", "timestamp"), ("TIMESTAMP_NS", "timestamp"),
    ("bigint[]", "list<int64>"), ("BIGINT[]", "list<int64>"), ("double[]", "list<float64>"),
    ("boolean[]", "list<bool>"), ("varchar[]", "list<string>"), ("VARCHAR(20)[]", "list<string>"),
    ("array<string>", "list<string>"), ("array<bigint>", "list<int64>"), ("array<int>", "list<int64>"),
    ("array< double >", "list<float64>"), ("array<boolean>", "list<bool>"),
])
def test_a_features_dtype_follows_from_its_data_type(data_type: str, dtype: str) -> None:
    assert dtype_of_sql_type(data_type) == dtype
    assert features_of(column("user_id", "bigint"), column("n", data_type)) == {"n": dtype}


@pytest.mark.parametrize("data_type", ["hugeint", "ubigint", "decimal(18,3)", "date", "json", "timestamp[]",
                                       "array<timestamp>", "bigint[][]", "array<array<int>>", "map<string,int>",
                                       "[]", "array<>", "int64[", ""])
def test_types_that_hold_no_dtype(data_type: str) -> None:
    assert dtype_of_sql_type(data_type) is None


def test_every_column_but_the_keys_and_timestamps_is_a_feature() -> None:
    columns = [column("user_id", "bigint"), column("event_timestamp", "timestamp"), column("loaded_at", "timestamp"),
               column("watch_count_30d", "bigint"), column("last_seen_at", "timestamptz"),
               column("genres", "array<string>")]
    assert features_of(*columns, created_timestamp="loaded_at") == {
        "watch_count_30d": "int64", "last_seen_at": "timestamp", "genres": "list<string>"}


def test_every_join_key_of_a_composite_entity_is_not_a_feature() -> None:
    node = view_node("user_title", good_meta(entity="user_title"),
                     [column("user_id", "bigint"), column("title_id", "bigint"), column("event_timestamp", "timestamp"),
                      column("affinity", "double")])
    node["config"]["meta"]["entities"] = node["meta"]["entities"] = {
        **ENTITIES, "user_title": {"join_keys": ["user_id", "title_id"], "dtype": "int64"}}
    registry = registry_from_manifest(manifest(node), Path("/p"))
    assert [(f.name, f.dtype) for f in registry.view("user_title").features] == [("affinity", "float64")]


def test_feature_false_leaves_a_column_out() -> None:
    columns = [column("user_id", "bigint"), column("n", "bigint"), column("note", "varchar", feature=False),
               column("blob", None, feature=False), column("raw", "decimal(10,2)", feature=False),
               column("m", "double", feature=True)]
    assert features_of(*columns) == {"n": "int64", "m": "float64"}


def test_feature_must_be_true_or_false() -> None:
    node = view_node("user_stats", good_meta(), [column("n", "bigint"), column("note", "varchar", feature="no")])
    message = refusal(manifest(node))
    assert "model 'user_stats', column 'note'" in message and "meta `feature` is 'no'" in message
    assert "write `feature: false`" in message


def test_a_data_type_that_maps_to_no_dtype_is_refused_with_the_supported_types() -> None:
    node = view_node("user_stats", good_meta(), [column("user_id", "bigint"), column("price", "decimal(18,3)")])
    message = refusal(manifest(node))
    assert "model 'user_stats', column 'price'" in message
    assert "contract data_type 'decimal(18,3)' maps to no feature dtype" in message
    for supported in ("bigint", "integer", "(int64)", "double", "real", "(float64)", "boolean", "varchar", "text",
                      "(string)", "timestamptz", "(timestamp)", "`bigint[]` (list<int64>)",
                      "`array<string>` (list<string>)"):
        assert supported in message, supported


def test_a_feature_without_a_data_type_is_refused() -> None:
    node = view_node("user_stats", good_meta(), [column("user_id"), column("event_timestamp"), column("n")])
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(manifest(node), Path("/p"))
    [error] = caught.value.errors  # the key and the timestamp need no data_type here
    assert (error.model, error.column) == ("user_stats", "n")
    assert "no contract `data_type`" in error.problem
    assert "`data_type: bigint`" in error.fix and "feature: false" in error.fix


def test_a_written_dtype_that_agrees_is_accepted() -> None:
    assert features_of(column("n", "BIGINT", dtype="int64"), column("tags", "varchar[]", dtype="list<string>")) == {
        "n": "int64", "tags": "list<string>"}


@pytest.mark.parametrize("data_type,written,derived", [
    ("bigint", "string", "int64"), ("double", "int64", "float64"), ("varchar[]", "string", "list<string>"),
    ("bigint", "integer", "int64"),
])
def test_a_written_dtype_that_disagrees_is_refused(data_type: str, written: str, derived: str) -> None:
    node = view_node("user_stats", good_meta(), [column("n", data_type, dtype=written)])
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(manifest(node), Path("/p"))
    [error] = caught.value.errors
    assert (error.model, error.column) == ("user_stats", "n")
    assert error.problem == (f"meta dtype {written!r} disagrees with {derived!r}, the dtype of its contract "
                             f"data_type {data_type!r}")
    assert "remove the `dtype`" in error.fix
    assert "model 'user_stats', column 'n'" in str(caught.value)


@pytest.mark.parametrize("name,meta,why", [
    ("user_id", {}, "a join key of entity 'user'"),
    ("event_timestamp", {}, "a timestamp column"),
    ("loaded_at", {"created_timestamp": "loaded_at"}, "a timestamp column"),
    ("note", {}, "its meta says `feature: false`"),
])
def test_a_dtype_on_a_column_that_is_not_a_feature_is_refused(name: str, meta: dict[str, str], why: str) -> None:
    flag = {"feature": False} if name == "note" else {}
    node = view_node("user_stats", good_meta(**meta), [column(name, "bigint", dtype="int64", **flag),
                                                       column("n", "bigint")])
    message = refusal(manifest(node))
    assert f"column '{name}': the column is not a feature ({why}) but its meta has dtype 'int64'" in message
    assert "remove the `dtype`" in message


def test_an_unknown_entity_leaves_the_columns_unjudged() -> None:
    # Which columns are features depends on the entity's keys: report the entity alone.
    node = view_node("user_stats", good_meta(entity="customer"), [column("customer_id"), column("n")])
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(manifest(node), Path("/p"))
    assert [(e.column, e.problem) for e in caught.value.errors] == [(None, "unknown entity 'customer'")]


def with_template(template: object, **wording: object) -> dict[str, Any]:
    node = copy.deepcopy(stats_view())
    entities = {"user": {**ENTITIES["user"], "context_template": template, **wording}}
    node["config"]["meta"]["entities"] = node["meta"]["entities"] = entities
    return node


def test_context_template_is_parsed_and_round_trips() -> None:
    template = "User context: watched {watch_count_30d} titles ({watch_count_30d:>4}); {{literal}}."
    registry = registry_from_manifest(manifest(with_template(template)), Path("/p"))
    assert registry.entity("user").context_template == template
    assert Registry.from_json(registry.to_json()) == registry
    assert registry.to_dict()["entities"]["user"]["context_template"] == template


def test_the_wording_of_stale_and_unknown_values_round_trips() -> None:
    template = "{watch_count_30d.description}: {watch_count_30d} ({watch_count_30d.status}, {watch_count_30d.age})"
    node = with_template(template, context_stale="{value} as of {age} ago", context_unknown="unknown ({reason})")
    registry = registry_from_manifest(manifest(node), Path("/p"))
    user = registry.entity("user")
    assert (user.context_stale, user.context_unknown) == ("{value} as of {age} ago", "unknown ({reason})")
    assert Registry.from_json(registry.to_json()) == registry


@pytest.mark.parametrize("wording,expected", [
    ({"context_stale": "{value} at {when}"}, "context_stale: placeholder {when} is not one of {value}, {age}"),
    ({"context_unknown": "no {value}"}, "context_unknown: placeholder {value} is not one of {feature}, {reason}"),
    ({"context_unknown": 3}, "has a context_unknown that is not text"),
    ({"context_stale": "{value"}, "context_stale: expected '}'"),
])
def test_malformed_wording_is_refused(wording: dict[str, object], expected: str) -> None:
    message = refusal(manifest(with_template("watched {watch_count_30d}", **wording)))
    assert expected in message, message


def test_an_entity_without_a_template_publishes_none() -> None:
    registry = registry_from_manifest(manifest(stats_view()), Path("/p"))
    assert registry.entity("user").context_template == ""
    assert "context_template" not in registry.to_dict()["entities"]["user"]


def test_context_template_placeholder_must_name_a_feature_of_the_entity() -> None:
    message = refusal(manifest(with_template("User context: segment={user_segment}.")))
    assert "model 'user_stats'" in message
    assert "names {user_segment}, which is not one of its features" in message
    assert "use one of watch_count_30d" in message and "dbt_project.yml" in message


@pytest.mark.parametrize("template,expected", [
    ("watched {watch_count_30d.real}", "is not a feature name"),
    ("watched {watch_count_30d.age:>3}", "is not a feature name"),
    ("watched {watch_count_30d!r}", "is not a feature name"),
    ("watched {0}", "is not a feature name"),
    ("watched {}", "is not a feature name"),
    ("watched {watch_count_30d", "expected '}'"),
    ("watched }", "Single '}'"),
    ("watched {watch_count_30d:{w}}", "is not a feature name"),
])
def test_malformed_context_templates_are_refused(template: str, expected: str) -> None:
    message = refusal(manifest(with_template(template)))
    assert "model 'user_stats'" in message and "context_template" in message
    assert expected in message, message


def test_a_format_spec_must_suit_the_features_dtype() -> None:
    message = refusal(manifest(with_template("watched {watch_count_30d:%Y}")))
    assert "format spec '%Y' of {watch_count_30d} cannot format int64 values" in message


def test_a_context_template_must_be_text() -> None:
    assert "context_template that is not text" in refusal(manifest(with_template(["a"])))


def test_a_bad_entity_declaration_is_reported_once_for_all_its_views() -> None:
    other = copy.deepcopy(with_template("watched {watch_count_30d!r}"))
    other["name"] = "user_other"
    other["columns"] = {"m": column("m", "bigint")}
    with pytest.raises(DefinitionErrors) as caught:
        registry_from_manifest(manifest(with_template("watched {watch_count_30d!r}"), other), Path("/p"))
    assert len(caught.value.errors) == 1
