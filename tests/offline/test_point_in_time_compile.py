"""What the macro refuses, and which implementation adapter.dispatch picks: real dbt compiles, no data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from feature_store.offline.training_compile import Compiler, JoinRequest, TrainingSetError
from tests.offline.pit_fixture import SELECTION, spine_file

TS = pa.timestamp("us")


def compile_error(project: Path, folder: Path, selection, columns) -> str:
    spine = spine_file(folder, columns)
    request = JoinRequest(tuple(selection))
    with pytest.raises(TrainingSetError) as caught:
        Compiler(project).compile(request, spine)
    return str(caught.value)


def test_a_feature_named_like_a_spine_column_is_refused(pit_project, tmp_path):
    columns = [("user_id", pa.int64()), ("event_timestamp", TS), ("plain_value", pa.int64())]
    message = compile_error(pit_project, tmp_path, [("plain_view", ("plain_value",))], columns)
    assert "column 'plain_value' of view 'plain_view' clashes with a column of the spine" in message


def test_a_view_timestamp_column_named_in_the_spine_is_refused(pit_project, tmp_path):
    columns = [("user_id", pa.int64()), ("event_timestamp", TS), ("plain_view__event_timestamp", TS)]
    message = compile_error(pit_project, tmp_path, [("plain_view", ("plain_value",))], columns)
    assert "'plain_view__event_timestamp'" in message and "clashes" in message


def test_an_unknown_feature_is_refused_with_the_views_features(pit_project, tmp_path):
    columns = [("user_id", pa.int64()), ("event_timestamp", TS)]
    message = compile_error(pit_project, tmp_path, [("plain_view", ("nope",))], columns)
    assert message == ("point_in_time_join: view 'plain_view' has no feature 'nope'; "
                       "its features: plain_value, plain_label")


def test_a_spine_without_a_join_key_is_refused(pit_project, tmp_path):
    columns = [("user_id", pa.int64()), ("event_timestamp", TS)]
    message = compile_error(pit_project, tmp_path, [("title_view", ("title_affinity",))], columns)
    assert "the spine has no column 'title_id', the join key of entity 'user_title'" in message


def test_a_spine_without_its_timestamp_is_refused(pit_project, tmp_path):
    columns = [("user_id", pa.int64()), ("ts", TS)]
    message = compile_error(pit_project, tmp_path, [("plain_view", ("plain_value",))], columns)
    assert "the spine has no column 'event_timestamp'" in message


def test_dispatch_picks_the_asof_join_on_duckdb(pit_project, tmp_path, joins):
    spine = spine_file(tmp_path)
    dispatched = Compiler(pit_project).compile(JoinRequest(SELECTION), spine)
    assert dispatched.sql == joins["duckdb"].sql
    assert dispatched.sql.count("asof left join") == len(SELECTION)
    portable = joins["portable"].sql.lower()
    assert "asof" not in portable and "row_number() over" in portable and "max(__pit_rank) over" in portable


def test_dbt_still_validates_the_project_with_its_config_schemas_kept(pit_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(pit_project, project)
    spine = spine_file(tmp_path)
    request = JoinRequest((("plain_view", ("plain_value",)),))
    Compiler(project).compile(request, spine)
    assert list((project / "target" / "training_set" / "dbt_json_schemas").glob("*.json"))
    with (project / "dbt_project.yml").open("a") as config:
        config.write("quoting: 5\n")
    with pytest.raises(TrainingSetError, match=r"\['quoting'\]: 5 is not valid under any of the given schemas"):
        Compiler(project).compile(request, spine)
