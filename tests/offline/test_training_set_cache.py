"""The kept SQL of ad-hoc training sets: a run with the same inputs skips dbt and gives the same rows,
and any change dbt's answer depends on (a macro, a view's meta, the features, the spine's columns or
types, an environment variable the project reads) has dbt compile again. Real dbt, real DuckDB."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from feature_store.offline.training_compile import Compiler, JoinRequest, TrainingSetError
from feature_store.offline.training_set import TrainingSetRun, resolve_features, write_training_set
from feature_store.registry.manifest import load_registry
from tests.conftest import BuiltProject

FEATURES = ["user_segment", "watch_count_30d", "last_genre"]


@pytest.fixture(scope="module")
def project(built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built project with no kept SQL; tests that edit a file put it back."""
    copy = tmp_path_factory.mktemp("cache") / "project"
    shutil.copytree(built_project.path, copy, ignore=shutil.ignore_patterns("training_set"))
    return copy


@pytest.fixture(scope="module")
def spine(project: Path) -> Path:
    return project / "data" / "training" / "recommender_spine.parquet"


@contextlib.contextmanager
def edited(path: Path, old: str, new: str) -> Iterator[None]:
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new, 1))
    try:
        yield
    finally:
        path.write_text(original)


def build(project: Path, spine: Path, out: Path, features: list[str] = FEATURES, **options) -> TrainingSetRun:
    return write_training_set(spine, features, out, project_dir=project, **options)


def test_the_same_inputs_skip_dbt_and_give_the_same_rows(project, spine, tmp_path):
    build(project, spine, tmp_path / "warm.parquet")  # whatever earlier tests kept
    again = build(project, spine, tmp_path / "again.parquet")
    forced = build(project, spine, tmp_path / "forced.parquet", recompile=True)
    assert (again.compiled, again.reused_sql) == (False, True)
    assert (forced.compiled, forced.reused_sql) == (True, True)  # dbt ran and compiled the same text
    assert pq.read_table(tmp_path / "again.parquet").equals(pq.read_table(tmp_path / "forced.parquet"))


def test_a_changed_macro_compiles_again_and_its_revert_finds_the_old_sql(project, spine, tmp_path):
    build(project, spine, tmp_path / "before.parquet")
    macro = project / "macros" / "point_in_time_join_duckdb.sql"
    with edited(macro, "select\n    spine.*", "select -- changed\n    spine.*"):
        changed = build(project, spine, tmp_path / "changed.parquet")
        kept = build(project, spine, tmp_path / "kept.parquet")
    reverted = build(project, spine, tmp_path / "reverted.parquet")
    assert changed.compiled and not kept.compiled and not reverted.compiled
    schema = tuple((field.name, str(field.type)) for field in pq.read_schema(spine))
    request = JoinRequest(resolve_features(load_registry(project), FEATURES))
    compiler = Compiler(project)
    kept_sql = compiler.lookup(request, compiler.fingerprint(request, schema))
    assert kept_sql is not None and "-- changed" not in kept_sql.sql  # the macro is back as it was
    tables = [pq.read_table(tmp_path / f"{name}.parquet") for name in ("before", "changed", "reverted")]
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])


def test_a_changed_view_meta_compiles_again_with_the_new_ttl(project, spine, tmp_path):
    before = build(project, spine, tmp_path / "before.parquet")
    yaml_file = project / "models" / "features" / "_features.yml"
    with edited(yaml_file, "created_timestamp: loaded_at\n        freshness: 1h\n        ttl: 30d",
                "created_timestamp: loaded_at\n        freshness: 1h\n        ttl: 1d"):
        shorter = build(project, spine, tmp_path / "shorter.parquet")
    assert shorter.compiled and shorter.rows == before.rows
    nulls = [pq.read_table(tmp_path / f"{name}.parquet").column("last_genre").null_count
             for name in ("before", "shorter")]
    assert nulls[1] > nulls[0]  # a one-day ttl expires values the thirty-day one kept


def test_another_feature_list_compiles_its_own_sql(project, spine, tmp_path):
    build(project, spine, tmp_path / "all.parquet")
    fewer = build(project, spine, tmp_path / "fewer.parquet", ["last_genre", "user_segment"])
    assert fewer.compiled
    names = pq.read_schema(tmp_path / "fewer.parquet").names
    assert "watch_count_30d" not in names and names.index("last_genre") < names.index("user_segment")


def test_another_spine_schema_compiles_again_and_a_clash_is_still_refused(project, spine, tmp_path):
    build(project, spine, tmp_path / "plain.parquet")
    table = pq.read_table(spine)
    extra = tmp_path / "extra_spine.parquet"
    pq.write_table(table.append_column("weight", pa.array([1.0] * table.num_rows)), extra)
    retyped = tmp_path / "retyped_spine.parquet"
    pq.write_table(table.set_column(0, table.field(0).name, pc.cast(table.column(0), pa.float64())), retyped)
    assert table.field(0).name == "user_id" and table.field(0).type == pa.int64()
    with_extra = build(project, extra, tmp_path / "extra.parquet")
    with_retyped = build(project, retyped, tmp_path / "retyped.parquet")
    assert with_extra.compiled and with_retyped.compiled
    assert pq.read_schema(tmp_path / "extra.parquet").names[:len(table.column_names) + 1] == [
        *table.column_names, "weight"]
    clashing = tmp_path / "clashing_spine.parquet"
    pq.write_table(table.append_column("last_genre", pa.array(["x"] * table.num_rows)), clashing)
    with pytest.raises(TrainingSetError, match="clashes with a column of the spine"):
        build(project, clashing, tmp_path / "clash.parquet")


def test_an_environment_variable_the_project_reads_is_part_of_the_fingerprint(project, monkeypatch):
    request = JoinRequest((("user_segment", ("user_segment",)),))
    schema = (("user_id", "int64"), ("event_timestamp", "timestamp[us]"))
    compiler = Compiler(project)
    monkeypatch.delenv("TRAINING_CACHE_TEST_SCHEMA", raising=False)
    plain = compiler.fingerprint(request, schema)
    model = project / "models" / "training" / "_training.yml"
    with edited(model, "\n", "\n# schema: {{ env_var('TRAINING_CACHE_TEST_SCHEMA', 'main') }}\n"):
        unset = compiler.fingerprint(request, schema)
        monkeypatch.setenv("TRAINING_CACHE_TEST_SCHEMA", "other")
        changed = compiler.fingerprint(request, schema)
        assert compiler.fingerprint(request, schema) == changed
    assert len({plain, unset, changed}) == 3
    assert compiler.fingerprint(request, schema) == plain


def test_only_the_latest_sql_of_a_request_is_kept(tmp_path):
    from feature_store.offline.training_compile import _KEPT_PER_REQUEST, _prune

    for index in range(_KEPT_PER_REQUEST + 4):
        path = tmp_path / f"{index:02d}.sql"
        path.write_text("select 1")
        os.utime(path, ns=(index * 10**9, index * 10**9))
    _prune(tmp_path)
    kept = sorted(path.name for path in tmp_path.glob("*.sql"))
    assert kept == [f"{index:02d}.sql" for index in range(4, _KEPT_PER_REQUEST + 4)]
