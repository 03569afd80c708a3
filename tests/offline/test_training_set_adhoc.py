"""The ad-hoc path: a spine file and feature names give the same training set as the dbt model,
in the spine's order, from the command line and from Python, without starting dbt or touching the
project's target/; `--recompile` has dbt compile the same; the manifest's latest parse is what counts."""

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

from feature_store.offline.training_compile import JoinRequest, render_join
from feature_store.offline.training_set import (
    build_training_frame,
    build_training_set,
    resolve_features,
    run_join,
    write_training_set,
)
from feature_store.registry.manifest import read_manifest, registry_from_manifest
from sync.cli import main as sync_main
from tests.conftest import PROJECT_DIR, BuiltProject, demo_vars, run_dbt

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
    assert not (project / "target" / "training_set").exists()  # dbt did not compile


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


def test_no_dbt_is_imported_and_recompile_compiles_the_same_with_dbt(project, tmp_path):
    spine = project / "data" / "training" / "recommender_spine.parquet"
    script = (
        "import sys; from feature_store.offline.training_set import write_training_set; "
        f"run = write_training_set({str(spine)!r}, {FEATURES!r}, {str(tmp_path / 'a.parquet')!r}, "
        f"project_dir={str(project)!r}); "
        "print(run.compiled, sorted({name.split('.')[0] for name in sys.modules if name.startswith('dbt')}))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "[]"]
    compiled = write_training_set(spine, FEATURES, tmp_path / "b.parquet", project_dir=project, recompile=True)
    assert compiled.compiled and 0 < compiled.join_seconds < compiled.seconds
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_a_view_meta_changed_and_parsed_takes_effect(built_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(built_project.path, project, ignore=shutil.ignore_patterns("*.duckdb*", "sync_state"))
    spine = project / "data" / "training" / "recommender_spine.parquet"
    before = write_training_set(spine, FEATURES, tmp_path / "before.parquet", project_dir=project)
    yaml_file = project / "models" / "features" / "_features.yml"
    old = "created_timestamp: loaded_at\n        freshness: 1h\n        ttl: 30d"
    assert old in yaml_file.read_text()
    yaml_file.write_text(yaml_file.read_text().replace(old, old.replace("30d", "1d")))
    run_dbt(project, "parse", "--vars", demo_vars(built_project.demo_now))
    shorter = write_training_set(spine, FEATURES, tmp_path / "shorter.parquet", project_dir=project)
    assert shorter.rows == before.rows and not shorter.compiled
    nulls = [pq.read_table(tmp_path / f"{name}.parquet").column("last_genre").null_count
             for name in ("before", "shorter")]
    assert nulls[1] > nulls[0]  # a one-day ttl expires values the thirty-day one kept


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


@pytest.mark.parametrize("implementation", ["duckdb", "portable"])
def test_inputs_past_the_memory_limit_join_then_sort_to_the_same_rows(project, spine_csv, tmp_path, implementation):
    manifest = read_manifest(project)
    registry = registry_from_manifest(manifest, project, source="manifest")
    selection = resolve_features(registry, FEATURES)
    locations = {view: Path(registry.view(view).location) for view, _ in selection}
    spine = tmp_path / "spine.parquet"
    duckdb.execute(f"copy (from read_csv('{spine_csv}')) to '{spine}' (format parquet)")
    compiled = render_join(manifest, project, JoinRequest(selection, implementation=implementation),
                           pq.read_schema(spine).names)
    outputs = {}
    for in_memory in (True, False):
        scratch = tmp_path / f"scratch_{in_memory}"
        scratch.mkdir()
        out = tmp_path / f"out_{in_memory}.parquet"
        assert run_join(compiled, locations, spine, out, scratch=scratch, in_memory=in_memory) > 0
        outputs[in_memory] = pq.read_table(out)
        assert list(scratch.glob("*.unordered")) == []  # the unordered join is removed
    assert outputs[False].equals(outputs[True])
    assert outputs[False].select(["user_id", "event_timestamp"]).equals(
        pq.read_table(spine).select(["user_id", "event_timestamp"]))  # in the spine's order
