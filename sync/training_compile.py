"""The point-in-time join of an ad-hoc training set, compiled by dbt from the project's macro.

The join has one definition, the `point_in_time_join` macro. An ad-hoc training set
asks dbt (in-process, through its Python API) to compile that macro for the
requested views, with its own profile (an in-memory DuckDB), target path and log
path, so the project's `target/` and DuckDB file are never touched. The spine is
named through a DuckDB variable and passes through as `spine.*`, so the SQL
depends on neither its path nor its columns (the macro reads them only to refuse
name clashes): the last SQL compiled for a request is kept, to start the join
while dbt starts up (see training_set.py), and used only when dbt compiles the same.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from sync.errors import FeatureStoreError

SPINE_VARIABLE = "training_spine"
# Every spine row keeps its position through the join, so results come back in the spine's order.
ROW_NUMBER_COLUMN = "file_row_number"
SPINE_SQL = f"read_parquet(getvariable('{SPINE_VARIABLE}'), file_row_number = true)"
IMPLEMENTATIONS = ("duckdb", "portable")
_RELATIONS_MARK = "/* training_set relations: "
_RELATIONS = re.compile(re.escape(_RELATIONS_MARK) + r"(\{.*?\}) \*/")
_TARGET_NAME = "training_set"


class TrainingSetError(FeatureStoreError):
    """An ad-hoc training set cannot be built as asked."""


@dataclass(frozen=True)
class JoinRequest:
    """What the compiled SQL depends on: the views and features, the spine's timestamp, the version."""

    selection: tuple[tuple[str, tuple[str, ...]], ...]  # (view, features) in output order
    spine_timestamp: str = "event_timestamp"
    implementation: str | None = None  # None: the adapter's own (DuckDB's ASOF join)

    def key(self) -> str:
        from importlib.metadata import version

        payload = {
            "selection": self.selection,
            "spine_timestamp": self.spine_timestamp,
            "implementation": self.implementation,
            "dbt": [version("dbt-core"), version("dbt-duckdb")],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CompiledJoin:
    """The compiled join, and the relation (database, schema, identifier) each view's ref() names."""

    sql: str
    relations: dict[str, tuple[str, str, str]]

    @classmethod
    def from_sql(cls, sql: str) -> CompiledJoin:
        match = _RELATIONS.search(sql)
        if match is None:
            raise TrainingSetError("the compiled training-set SQL has no relations header")
        relations = {view: tuple(parts) for view, parts in json.loads(match.group(1)).items()}
        return cls(sql, relations)  # type: ignore[arg-type]


def inline_sql(request: JoinRequest) -> str:
    """The Jinja that dbt compiles: the macro call, plus a header naming each view's relation."""
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


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def default_cache_dir(project_dir: Path) -> Path:
    """The ad-hoc path's own folder: its dbt target, logs and profile, beside the project's artifacts."""
    return project_dir / "target" / "training_set"


class Compiler:
    """Compiles point_in_time_join with dbt in this process; dbt's start-up is paid once per process."""

    def __init__(self, project_dir: Path, cache_dir: Path | None = None) -> None:
        self.project_dir = project_dir.resolve()
        self.cache_dir = (cache_dir or default_cache_dir(self.project_dir)).resolve()

    def cached(self, request: JoinRequest) -> CompiledJoin | None:
        """The SQL last compiled for this request, if any: a guess until dbt confirms it."""
        path = self._cache_path(request)
        with contextlib.suppress(OSError, TrainingSetError):
            return CompiledJoin.from_sql(path.read_text())
        return None

    def compile(self, request: JoinRequest, spine_path: Path) -> CompiledJoin:
        """Run dbt's compile of the macro for `request` (reading the spine's columns) and keep the SQL."""
        from dbt.cli.main import dbtRunner

        _spare_exit_collection()

        assignment = _jinja_text(f"set variable {SPINE_VARIABLE} = {sql_literal(str(spine_path))}")
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
        compiled = CompiledJoin.from_sql(result.result.results[0].node.compiled_code)
        path = self._cache_path(request)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(compiled.sql)
        partial.replace(path)
        return compiled

    def _cache_path(self, request: JoinRequest) -> Path:
        return self.cache_dir / "compiled" / f"{request.key()}.sql"

    def _profiles_dir(self) -> Path:
        """A profile of the project's name: an in-memory DuckDB, so no database file is opened."""
        project = yaml.safe_load((self.project_dir / "dbt_project.yml").read_text()) or {}
        profile = {
            project.get("profile") or project.get("name"): {
                "target": _TARGET_NAME,
                "outputs": {_TARGET_NAME: {
                    "type": "duckdb", "path": ":memory:", "threads": 1, "settings": {"TimeZone": "UTC"},
                }},
            }
        }
        folder = self.cache_dir / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(profile, sort_keys=True)
        path = folder / "profiles.yml"
        if not path.is_file() or path.read_text() != text:
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(text)
            partial.replace(path)
        return folder


_exit_collection_spared = False


def _spare_exit_collection() -> None:
    """At interpreter exit, freeze what is left instead of collecting it.

    dbt leaves a large heap of cyclic objects; the collector's last pass over them took
    about 0.8 s of a 5 s command. The operating system frees the memory anyway.
    """
    global _exit_collection_spared
    if not _exit_collection_spared:
        atexit.register(gc.freeze)
        _exit_collection_spared = True


def _jinja_text(text: str) -> str:
    """`text` inside a double-quoted Jinja string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


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
