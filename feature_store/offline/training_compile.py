"""The point-in-time join of an ad-hoc training set: the project's macro, rendered for one request.

The join has one definition, the `point_in_time_join` macro. An ad-hoc training set
renders it from the manifest's macros (macro_render.py) for the requested views, with
the spine named through a DuckDB variable (it passes through as `spine.*`, so the SQL
does not depend on its path): a few milliseconds, no dbt start. It is what the last
`dbt parse` / `dbt build` saw, as is the registry that names the views; a macro file of
the project edited since then is refused until dbt parses again.

`Compiler` has dbt itself compile the same call (in-process, with its own profile of an
in-memory DuckDB, target path and log path, so the project's `target/` and DuckDB file
are never touched): for `recompile`, and for the tests that hold the rendering to it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from feature_store.errors import FeatureStoreError
from feature_store.offline.macro_render import MacroRenderer, MacroRenderError, project_config
from feature_store.sql import literal

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

SPINE_VARIABLE = "training_spine"
# Every spine row keeps its position through the join, so results come back in the spine's order.
ROW_NUMBER_COLUMN = "file_row_number"
SPINE_SQL = f"read_parquet(getvariable('{SPINE_VARIABLE}'), file_row_number = true)"
IMPLEMENTATIONS = ("duckdb", "portable")
_RELATIONS_MARK = "/* training_set relations: "
_RELATIONS = re.compile(re.escape(_RELATIONS_MARK) + r"(\{.*?\}) \*/\n")
_TARGET_NAME = "training_set"


def join_macro_files(macros: Path) -> list[Path]:
    """The macro files the point-in-time join needs, in a project's macros folder: to copy into another project."""
    return [*sorted(macros.glob("point_in_time*.sql")), macros / "feature_view.sql"]


class TrainingSetError(FeatureStoreError):
    """An ad-hoc training set cannot be built as asked."""


@dataclass(frozen=True)
class JoinRequest:
    """What the join's SQL depends on besides the project: the views and features, the spine's timestamp,
    the implementation."""

    selection: tuple[tuple[str, tuple[str, ...]], ...]  # (view, features) in output order
    spine_timestamp: str = "event_timestamp"
    implementation: str | None = None  # None: the adapter's own (DuckDB's ASOF join)


@dataclass(frozen=True)
class CompiledJoin:
    """The join's SQL (what the macro returns), and the relation (database, schema, identifier) each
    view's ref() names."""

    sql: str
    relations: dict[str, tuple[str, str, str]]


def render_join(manifest: Mapping[str, Any], project_dir: Path, request: JoinRequest,
                spine_columns: Sequence[str]) -> CompiledJoin:
    """The macro's SQL for `request`, rendered from the manifest's macros; `spine_columns` as in the file."""
    columns = [*spine_columns, ROW_NUMBER_COLUMN]  # what read_parquet(..., file_row_number) gives
    renderer = MacroRenderer(manifest, project_config(project_dir), lambda sql: columns)
    try:
        relations = {view: renderer.relation(view) for view, _ in request.selection}
        sql = renderer.macro("point_in_time_join")(
            spine=SPINE_SQL,
            features=[{"view": relations[view], "features": list(names)} for view, names in request.selection],
            spine_timestamp=request.spine_timestamp,
            implementation=request.implementation,
        )
    except MacroRenderError as error:
        raise TrainingSetError(str(error)) from error
    stale = renderer.changed_since_parse(project_dir)
    if stale:
        raise TrainingSetError(
            f"{', '.join(stale)} changed since dbt last parsed the project: run `dbt parse` (or build with "
            "--recompile, which has dbt compile the files as they are)"
        )
    return CompiledJoin(str(sql), {view: (r.database, r.schema, r.identifier) for view, r in relations.items()})


def inline_sql(request: JoinRequest) -> str:
    """The Jinja that dbt compiles: the macro call, after a header naming each view's relation."""
    views = [view for view, _ in request.selection]
    relations = ", ".join(
        f"{json.dumps(view)}: [ref({json.dumps(view)}).database, ref({json.dumps(view)}).schema, "
        f"ref({json.dumps(view)}).identifier]"
        for view in views
    )
    features = ", ".join(
        f"{{'view': ref({json.dumps(view)}), 'features': {json.dumps(list(names))}}}"
        for view, names in request.selection
    )
    implementation = json.dumps(request.implementation) if request.implementation else "none"
    return (
        f"{_RELATIONS_MARK}{{{{ tojson({{{relations}}}) }}}} */\n"
        f"{{{{ point_in_time_join(spine={json.dumps(SPINE_SQL)}, features=[{features}], "
        f"spine_timestamp={json.dumps(request.spine_timestamp)}, implementation={implementation}) }}}}"
    )


def _from_dbt(code: str) -> CompiledJoin:
    match = _RELATIONS.match(code)
    if match is None:
        raise TrainingSetError("the SQL dbt compiled has no relations header")
    relations = {view: (parts[0], parts[1], parts[2]) for view, parts in json.loads(match.group(1)).items()}
    return CompiledJoin(code[match.end():], relations)


def default_cache_dir(project_dir: Path) -> Path:
    """Where dbt compiles for the ad-hoc path: its target, logs and profile, beside the project's artifacts."""
    return project_dir / "target" / "training_set"


class Compiler:
    """Compiles point_in_time_join with dbt in this process (seconds: dbt starts)."""

    def __init__(self, project_dir: Path, cache_dir: Path | None = None) -> None:
        self.project_dir = project_dir.resolve()
        self.cache_dir = (cache_dir or default_cache_dir(self.project_dir)).resolve()

    def compile(self, request: JoinRequest, spine_path: Path) -> CompiledJoin:
        """Run dbt's compile of the macro for `request`, reading the spine's columns from `spine_path`."""
        from dbt.cli.main import dbtRunner

        assignment = _jinja_text(f"set variable {SPINE_VARIABLE} = {literal(str(spine_path))}")
        setup = f'{{%- do run_query("{assignment}") -%}}\n'
        args = [
            "compile", "--inline", setup + inline_sql(request),
            "--project-dir", str(self.project_dir),
            "--profiles-dir", str(self._profiles_dir()),
            "--target", _TARGET_NAME,
            "--target-path", str(self.cache_dir / "dbt"),
            "--log-path", str(self.cache_dir / "logs"),
            "--log-level", "none", "--log-level-file", "none",
            "--no-write-json", "--no-populate-cache", "--no-version-check", "--no-send-anonymous-usage-stats",
        ]
        with _locked(self.cache_dir / "compile.lock"):
            result = dbtRunner().invoke(args)
        if not result.success:
            raise TrainingSetError(_dbt_error(result))
        return _from_dbt(_compiled_code(result))

    def _profile_text(self) -> str:
        """A profile of the project's name: an in-memory DuckDB, so no database file is opened."""
        project = project_config(self.project_dir)
        profile = {
            project.get("profile") or project.get("name"): {
                "target": _TARGET_NAME,
                "outputs": {_TARGET_NAME: {
                    "type": "duckdb", "path": ":memory:", "threads": 1, "settings": {"TimeZone": "UTC"},
                }},
            }
        }
        return yaml.safe_dump(profile, sort_keys=True)

    def _profiles_dir(self) -> Path:
        folder = self.cache_dir / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "profiles.yml"
        text = self._profile_text()
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        return folder


def _jinja_text(text: str) -> str:
    """`text` inside a double-quoted Jinja string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _compiled_code(result: dbtRunnerResult) -> str:
    """The SQL of the one inline node a successful `dbt compile` ran."""
    from dbt.artifacts.schemas.run import RunExecutionResult

    run = result.result
    node = run.results[0].node if isinstance(run, RunExecutionResult) and run.results else None
    code = getattr(node, "compiled_code", None)
    if not isinstance(code, str):
        raise TrainingSetError("dbt compile returned no compiled SQL")
    return code


def _dbt_error(result: object) -> str:
    """dbt's message without its stack of macro names; the macro's own errors start with their name."""
    exception = getattr(result, "exception", None)
    text = str(exception) if exception else ""
    if not text:
        results = getattr(getattr(result, "result", None), "results", None) or []
        text = "\n".join(str(getattr(r, "message", "")) for r in results) or "dbt compile failed"
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(">")]
    ours = [line for line in lines if line.startswith(("point_in_time_join:", "no_future_leakage:"))]
    return ours[0] if ours else "dbt could not compile the training set: " + " ".join(lines)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One dbt compile at a time per cache folder: dbt rewrites its partial-parse file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as dbt itself has none
        yield
        return
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
