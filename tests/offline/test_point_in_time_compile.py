"""The join rendered from the manifest is what dbt compiles, for every view shape and both implementations;
the macro's refusals read the same both ways; a macro edited since dbt's parse is refused. Real dbt, no data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feature_store.offline.training_compile import Compiler, JoinRequest, TrainingSetError, render_join
from feature_store.registry.manifest import read_manifest
from tests.offline.pit_fixture import SELECTION, spine_file

TS = pa.timestamp("us")
VIEW = dict(SELECTION)
SHAPES = {
    "no ttl": (("plain_view", VIEW["plain_view"]),),
    "ttl, own timestamp column": (("hourly_view", VIEW["hourly_view"]),),
    "ttl and created timestamp": (("loaded_view", VIEW["loaded_view"]),),
    "two join keys": (("title_view", VIEW["title_view"]),),
    "several views, one feature picked": (("loaded_view", VIEW["loaded_view"]), ("plain_view", ("plain_label",)),
                                          ("title_view", VIEW["title_view"])),
    "every view": SELECTION,
}


def dbt_parse(project: Path) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([
        "parse", "--project-dir", str(project), "--profiles-dir", str(project / "profiles"),
        "--log-path", str(project / "logs"), "--log-level", "none", "--no-version-check",
        "--no-send-anonymous-usage-stats",
    ])
    assert result.success, result.exception


def rendered(project: Path, request: JoinRequest, spine: Path):
    return render_join(read_manifest(project), project, request, pq.read_schema(spine).names)


@pytest.mark.parametrize("implementation", ["duckdb", "portable", None])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_rendered_join_is_what_dbt_compiles(pit_project, tmp_path, shape, implementation):
    spine = spine_file(tmp_path)
    request = JoinRequest(SHAPES[shape], implementation=implementation)
    by_dbt = Compiler(pit_project).compile(request, spine)
    assert rendered(pit_project, request, spine) == by_dbt
    assert by_dbt.sql.count("asof left join") == (0 if implementation == "portable" else len(SHAPES[shape]))


def test_another_spine_timestamp_renders_as_dbt_compiles(pit_project, tmp_path):
    spine = spine_file(tmp_path, [("user_id", pa.int64()), ("title_id", pa.int64()), ("asked_at", TS)])
    for implementation in ("duckdb", "portable"):
        request = JoinRequest(SELECTION, spine_timestamp="asked_at", implementation=implementation)
        by_dbt = Compiler(pit_project).compile(request, spine)
        assert rendered(pit_project, request, spine) == by_dbt and "spine.asked_at" in by_dbt.sql


REFUSALS = {
    "a feature named like a spine column": (
        [("plain_view", ("plain_value",))], [("user_id", pa.int64()), ("event_timestamp", TS),
                                             ("plain_value", pa.int64())],
        "column 'plain_value' of view 'plain_view' clashes with a column of the spine"),
    "a view's timestamp column named in the spine": (
        [("plain_view", ("plain_value",))], [("user_id", pa.int64()), ("event_timestamp", TS),
                                             ("plain_view__event_timestamp", TS)],
        "column 'plain_view__event_timestamp' of view 'plain_view' clashes with a column of the spine"),
    "an unknown feature": (
        [("plain_view", ("nope",))], [("user_id", pa.int64()), ("event_timestamp", TS)],
        "point_in_time_join: view 'plain_view' has no feature 'nope'; its features: plain_value, plain_label"),
    "a spine without a join key": (
        [("title_view", ("title_affinity",))], [("user_id", pa.int64()), ("event_timestamp", TS)],
        "the spine has no column 'title_id', the join key of entity 'user_title'"),
    "a spine without its timestamp": (
        [("plain_view", ("plain_value",))], [("user_id", pa.int64()), ("ts", TS)],
        "the spine has no column 'event_timestamp'"),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_the_macro_refuses_the_same_rendered_and_compiled(pit_project, tmp_path, refusal):
    selection, columns, message = REFUSALS[refusal]
    spine = spine_file(tmp_path, columns)
    request = JoinRequest(tuple(selection))
    with pytest.raises(TrainingSetError) as by_dbt:
        Compiler(pit_project).compile(request, spine)
    with pytest.raises(TrainingSetError) as by_render:
        rendered(pit_project, request, spine)
    assert message in str(by_render.value)
    assert str(by_render.value) == str(by_dbt.value)


def test_a_macro_edited_since_the_parse_is_refused_until_dbt_parses_again(pit_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(pit_project, project)
    spine = spine_file(tmp_path)
    request = JoinRequest((("plain_view", ("plain_value",)),), implementation="duckdb")
    macro = project / "macros" / "point_in_time_join_duckdb.sql"
    macro.write_text(macro.read_text().replace("select\n    spine.*", "select -- changed\n    spine.*"))
    with pytest.raises(TrainingSetError, match=r"macros/point_in_time_join_duckdb.sql changed since dbt last "
                                               r"parsed the project: run `dbt parse`"):
        rendered(project, request, spine)
    with (project / "dbt_project.yml").open("a") as config:
        config.write("vars:\n  point_in_time_join_implementation: portable\n")
    dbt_parse(project)
    assert "-- changed" in rendered(project, request, spine).sql
    # The var picks the implementation where the call does not: the same both ways.
    dispatched = JoinRequest(request.selection)
    by_dbt = Compiler(project).compile(dispatched, spine)
    assert rendered(project, dispatched, spine) == by_dbt and "asof" not in by_dbt.sql
