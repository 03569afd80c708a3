"""The ad-hoc path: a spine file and feature names give the same training set as the dbt model,
in the spine's order, from the command line and from Python, without touching the project's target/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feature_store.offline.training_set import build_training_frame, build_training_set, write_training_set
from sync.cli import main as sync_main
from tests.conftest import PROJECT_DIR, BuiltProject

FEATURES = ["user_segment", "watch_count_30d", "last_genre"]
KEY = ("user_id", "event_timestamp")


@pytest.fixture(scope="module")
def project(built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built project, so the ad-hoc cache folder is this module's own."""
    copy = tmp_path_factory.mktemp("adhoc") / "project"
    shutil.copytree(built_project.path, copy)
    return copy


@pytest.fixture(scope="module")
def spine_csv(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo spine as CSV, shuffled, so the spine's order is not the model's."""
    path = tmp_path_factory.mktemp("spine") / "spine.csv"
    source = project / "data" / "training" / "recommender_spine.parquet"
    duckdb.execute(f"copy (select * from '{source}' order by hash(user_id, event_timestamp)) to '{path}'")
    return path


def model_rows(project: Path) -> list[dict]:
    rows = pq.read_table(project / "data" / "training" / "recommender_training_set.parquet").to_pylist()
    return sorted(rows, key=lambda row: tuple(row[k] for k in KEY))


def target_files(project: Path) -> dict[str, int]:
    return {
        str(path.relative_to(project)): path.stat().st_mtime_ns
        for path in (project / "target").rglob("*")
        if path.is_file() and "training_set" not in path.relative_to(project / "target").parts
    }


def test_cli_builds_the_demo_training_set_from_a_csv_spine_in_its_order(project, spine_csv, tmp_path, capsys):
    before = target_files(project)
    out = tmp_path / "train.parquet"
    code = sync_main(["training-set", "--spine", str(spine_csv), "--features", ",".join(FEATURES), "--out", str(out),
                 "--project-dir", str(project)])
    assert code == 0, capsys.readouterr().err
    assert "rows x 10 columns" in capsys.readouterr().out
    result = pq.read_table(out).to_pylist()
    spine = duckdb.execute(f"select user_id, event_timestamp from read_csv('{spine_csv}')").fetchall()
    assert [(row["user_id"], row["event_timestamp"]) for row in result] == spine
    assert sorted(result, key=lambda row: tuple(row[k] for k in KEY)) == model_rows(project)
    assert target_files(project) == before  # the project's own artifacts are left alone
    assert (project / "target" / "training_set" / "dbt").is_dir()


def test_python_api_returns_arrow_and_pandas(project):
    spine = pq.read_table(project / "data" / "training" / "recommender_spine.parquet").slice(0, 500)
    table = build_training_set(spine, FEATURES, project_dir=project)
    assert isinstance(table, pa.Table) and table.num_rows == 500
    assert table.column_names[:4] == spine.column_names
    assert table.select(spine.column_names).equals(spine)
    frame = build_training_frame(spine.to_pandas(), ["last_genre"], project_dir=project)
    assert list(frame.columns) == [*spine.column_names, "last_genre", "user_last_genre__event_timestamp"]
    assert frame["last_genre"].isna().sum() > 0  # users without a watch in the last 30 days
    from_frame = pa.Table.from_pandas(frame).column("last_genre")
    assert from_frame.to_pylist() == table.column("last_genre").to_pylist()


def test_portable_implementation_gives_the_same_training_set(project, spine_csv, tmp_path):
    duck = build_training_set(spine_csv, FEATURES, project_dir=project)
    portable = build_training_set(spine_csv, FEATURES, project_dir=project, implementation="portable")
    assert portable.equals(duck)


def test_last_times_sql_starts_early_when_dbt_must_compile_again(built_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(built_project.path, project, ignore=shutil.ignore_patterns("training_set"))
    spine = project / "data" / "training" / "recommender_spine.parquet"
    first = write_training_set(spine, FEATURES, tmp_path / "a.parquet", project_dir=project)
    second = write_training_set(spine, FEATURES, tmp_path / "b.parquet", project_dir=project)
    assert (first.compiled, first.reused_sql) == (True, False)
    assert (second.compiled, second.reused_sql) == (False, True)  # kept for the same fingerprint: no dbt
    macro = project / "macros" / "point_in_time_join_duckdb.sql"
    macro.write_text(macro.read_text().replace("select\n    spine.*", "select -- changed\n    spine.*"))
    third = write_training_set(spine, FEATURES, tmp_path / "c.parquet", project_dir=project)
    assert (third.compiled, third.reused_sql) == (True, False)  # last time's SQL ran early and was dropped
    fourth = write_training_set(spine, FEATURES, tmp_path / "d.parquet", project_dir=project, recompile=True)
    assert (fourth.compiled, fourth.reused_sql) == (True, True)  # dbt compiled what ran early
    tables = [pq.read_table(tmp_path / f"{name}.parquet") for name in "abcd"]
    assert all(tables[0].equals(table) for table in tables[1:])
    assert tables[0].num_rows == first.rows == third.rows == fourth.rows


def test_unknown_feature_is_reported(project, spine_csv, tmp_path, capsys):
    code = sync_main(["training-set", "--spine", str(spine_csv), "--features", "last_genre,nope",
                 "--out", str(tmp_path / "x.parquet"), "--project-dir", str(project)])
    assert code == 1
    assert "no feature named 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_a_spine_column_named_like_a_feature_is_reported(project, tmp_path, capsys):
    spine = pq.read_table(project / "data" / "training" / "recommender_spine.parquet")
    clashing = spine.append_column("last_genre", pa.array(["x"] * spine.num_rows))
    pq.write_table(clashing, tmp_path / "spine.parquet")
    code = sync_main(["training-set", "--spine", str(tmp_path / "spine.parquet"), "--features", "last_genre",
                 "--out", str(tmp_path / "x.parquet"), "--project-dir", str(project)])
    assert code == 1
    message = capsys.readouterr().err
    assert "column 'last_genre' of view 'user_last_genre' clashes with a column of the spine" in message


def test_the_command_line_from_the_readme(project, spine_csv, tmp_path):
    out = tmp_path / "train.parquet"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBT_")}
    result = subprocess.run(
        [sys.executable, "-m", "sync", "training-set", "--spine", str(spine_csv),
         "--features", ",".join(FEATURES), "--out", str(out), "--project-dir", str(project)],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).num_rows == len(model_rows(project))
