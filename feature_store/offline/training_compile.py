"""The point-in-time join of an ad-hoc training set, compiled by dbt from the project's macro.

The join has one definition, the `point_in_time_join` macro. An ad-hoc training set
asks dbt (in-process, through its Python API) to compile that macro for the
requested views, with its own profile (an in-memory DuckDB), target path and log
path, so the project's `target/` and DuckDB file are never touched. The spine is
named through a DuckDB variable and passes through as `spine.*`, so the SQL does
not depend on its path.

dbt's start-up (import, project load, compile) costs seconds, so the compiled SQL
is kept under a fingerprint of everything dbt's answer depends on: the content of
every file dbt reads from the project (dbt_project.yml, models, macros, seeds,
tests, packages...), the environment variables the project reads, the versions of
dbt and its adapter, the generated profile, the macro call (views, features, spine
timestamp, implementation) and the spine's column names and types (the macro
reads them to refuse clashes). A run with the same fingerprint runs the kept SQL
without starting dbt; any change compiles again.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from feature_store.errors import FeatureStoreError
from feature_store.sql import literal

if TYPE_CHECKING:
    from types import FrameType

    from dbt.cli.main import dbtRunnerResult

SPINE_VARIABLE = "training_spine"
# Every spine row keeps its position through the join, so results come back in the spine's order.
ROW_NUMBER_COLUMN = "file_row_number"
SPINE_SQL = f"read_parquet(getvariable('{SPINE_VARIABLE}'), file_row_number = true)"
IMPLEMENTATIONS = ("duckdb", "portable")
_RELATIONS_MARK = "/* training_set relations: "
_RELATIONS = re.compile(re.escape(_RELATIONS_MARK) + r"(\{.*?\}) \*/")
_TARGET_NAME = "training_set"
# Bump when the fingerprint's contents change meaning, so older entries are not trusted.
_CACHE_FORMAT = 1
_KEPT_PER_REQUEST = 16
# Their built-in macros (dispatch, dateadd) and the database dbt-duckdb opens shape the SQL.
_DBT_DISTRIBUTIONS = ("dbt-core", "dbt-adapters", "dbt-common", "dbt-duckdb", "duckdb")
_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "package-lock.yml", "selectors.yml",
                  ".dbtignore")
# dbt's defaults for the folders it reads, where dbt_project.yml does not name its own `*-paths`.
_DEFAULT_PATHS = {
    "model-paths": ["models"], "macro-paths": ["macros"], "seed-paths": ["seeds"], "test-paths": ["tests"],
    "snapshot-paths": ["snapshots"], "analysis-paths": ["analyses"], "function-paths": ["functions"],
}
_ENV_VAR = re.compile(rb"""env_var\(\s*['"]([^'"]+)['"]""")


def join_macro_files(macros: Path) -> list[Path]:
    """The macro files the point-in-time join needs, in a project's macros folder: to copy into another project."""
    return [*sorted(macros.glob("point_in_time*.sql")), macros / "feature_view.sql"]


class TrainingSetError(FeatureStoreError):
    """An ad-hoc training set cannot be built as asked."""


@dataclass(frozen=True)
class JoinRequest:
    """What the compiled SQL depends on: the views and features, the spine's timestamp, the version."""

    selection: tuple[tuple[str, tuple[str, ...]], ...]  # (view, features) in output order
    spine_timestamp: str = "event_timestamp"
    implementation: str | None = None  # None: the adapter's own (DuckDB's ASOF join)

    def key(self) -> str:
        """The request alone, across project versions: names the folder of its kept SQL."""
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
        return cls(sql, relations)


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


def default_cache_dir(project_dir: Path) -> Path:
    """The ad-hoc path's own folder: its dbt target, logs and profile, beside the project's artifacts."""
    return project_dir / "target" / "training_set"


SpineSchema = tuple[tuple[str, str], ...]  # (column name, type) in the spine's order


class Compiler:
    """Compiles point_in_time_join with dbt in this process; dbt's start-up is paid once per process."""

    def __init__(self, project_dir: Path, cache_dir: Path | None = None) -> None:
        self.project_dir = project_dir.resolve()
        self.cache_dir = (cache_dir or default_cache_dir(self.project_dir)).resolve()

    def fingerprint(self, request: JoinRequest, spine_schema: SpineSchema) -> str:
        """A digest of everything the compiled SQL depends on: equal digests, equal SQL."""
        files = self._project_files()
        referenced = {name.decode() for text in files.values() for name in _ENV_VAR.findall(text)}
        environment = {name: os.environ.get(name) for name in sorted(referenced)}
        environment.update({name: value for name, value in sorted(os.environ.items()) if name.startswith("DBT_")})
        payload = {
            "format": _CACHE_FORMAT,
            "call": inline_sql(request),
            "profile": self._profile_text(),
            "dbt": _versions(),
            "files": {path: hashlib.sha256(text).hexdigest() for path, text in files.items()},
            "environment": environment,
            "spine": [list(column) for column in spine_schema],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]

    def lookup(self, request: JoinRequest, fingerprint: str) -> CompiledJoin | None:
        """The SQL dbt compiled for this exact fingerprint, if it has; no dbt needed."""
        with contextlib.suppress(OSError, TrainingSetError):
            return CompiledJoin.from_sql(self._entry(request, fingerprint).read_text())
        return None

    def cached(self, request: JoinRequest) -> CompiledJoin | None:
        """The SQL last compiled for this request under any fingerprint: a guess until dbt confirms it."""
        with contextlib.suppress(OSError, TrainingSetError, ValueError):
            entries = list((self.cache_dir / "compiled" / request.key()).glob("*.sql"))
            latest = max(entries, key=lambda path: path.stat().st_mtime_ns)
            return CompiledJoin.from_sql(latest.read_text())
        return None

    def compile(self, request: JoinRequest, spine_path: Path, spine_schema: SpineSchema | None = None,
                fingerprint: str | None = None) -> CompiledJoin:
        """Run dbt's compile of the macro for `request` (reading the spine's columns).

        With the spine's schema, the SQL is kept under the fingerprint (`fingerprint`
        when the caller has just taken it), unless the project changed while dbt
        read it (then no one can tell which version it compiled).
        """
        from dbt.cli.main import dbtRunner

        _spare_exit_collection()

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
        before = None
        if spine_schema is not None:
            before = fingerprint or self.fingerprint(request, spine_schema)
        with _locked(self.cache_dir / "compile.lock"), _quicker_dbt_start(self.cache_dir):
            result = dbtRunner().invoke(args)
        if not result.success:
            raise TrainingSetError(_dbt_error(result))
        compiled = CompiledJoin.from_sql(_compiled_code(result))
        if before is not None and spine_schema is not None and before == self.fingerprint(request, spine_schema):
            entry = self._entry(request, before)
            _write_atomically(entry, compiled.sql)
            _prune(entry.parent)
        return compiled

    def _entry(self, request: JoinRequest, fingerprint: str) -> Path:
        return self.cache_dir / "compiled" / request.key() / f"{fingerprint}.sql"

    def _project_config(self) -> dict:
        try:
            config = yaml.safe_load((self.project_dir / "dbt_project.yml").read_text())
        except (OSError, yaml.YAMLError):
            return {}
        return config if isinstance(config, dict) else {}

    def _project_files(self) -> dict[str, bytes]:
        """Every file dbt may read from the project, by path relative to it, with its content.

        The project's own artifacts (target, logs, this cache) are left out: dbt writes
        them and does not read them back into what it compiles.
        """
        config = self._project_config()
        paths = {**_DEFAULT_PATHS, **{key: value for key, value in config.items()
                                      if isinstance(key, str) and key.endswith("-paths")}}
        folders = {str(item) for value in paths.values() if isinstance(value, list) for item in value}
        install = config.get("packages-install-path", "dbt_packages")
        folders.add(str(install))
        skipped = {(self.project_dir / str(config.get(key, default))).resolve()
                   for key, default in (("target-path", "target"), ("log-path", "logs"))}
        skipped.add(self.cache_dir)
        files: dict[str, bytes] = {}
        for name in _PROJECT_FILES:
            path = self.project_dir / name
            if path.is_file():
                files[name] = path.read_bytes()
        for folder in sorted(folders):
            root = (self.project_dir / folder).resolve()
            if root in skipped or not root.is_dir():
                continue
            for directory, subdirectories, names in os.walk(root):
                subdirectories[:] = sorted(d for d in subdirectories if (Path(directory) / d).resolve() not in skipped)
                for name in sorted(names):
                    path = Path(directory) / name
                    if path.is_file():
                        files[os.path.relpath(path, self.project_dir)] = path.read_bytes()
        return files

    def _profile_text(self) -> str:
        """A profile of the project's name: an in-memory DuckDB, so no database file is opened."""
        project = self._project_config()
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
        text = self._profile_text()
        path = folder / "profiles.yml"
        if not path.is_file() or path.read_text() != text:
            _write_atomically(path, text)
        return folder


def _versions() -> dict[str, str]:
    """The installed versions of dbt, its adapter and DuckDB."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _DBT_DISTRIBUTIONS:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def _prune(folder: Path, keep: int = _KEPT_PER_REQUEST) -> None:
    """Forget all but the latest SQL kept for a request: each change to the project adds one."""
    with contextlib.suppress(OSError):
        entries = sorted(folder.glob("*.sql"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
        for path in entries[keep:]:
            path.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


@contextlib.contextmanager
def _quicker_dbt_start(cache_dir: Path) -> Iterator[None]:
    """Skip two of dbt's start-up costs that do not change what it compiles, for one invocation.

    - Each config class's JSON schema (used to validate dbt_project.yml, the profile, the
      node) is built by mashumaro in every process, about 0.5 s: the schemas are kept in a
      file per version of dbt-core, dbt-common and mashumaro, and validation still runs.
    - Each behaviour flag of the adapter names its source module by walking inspect.stack(),
      which reads the source lines of every frame, about 0.4 s: the frames' own module names
      give the same answer without reading files.
    Either is left as dbt has it when its code is not as expected.
    """
    try:
        from dbt_common import behavior_flags
        from dbt_common.dataclass_schema import dbtClassMixin
    except ImportError:
        yield
        return
    schema_method = dbtClassMixin.__dict__.get("json_schema")
    source_method = behavior_flags.BehaviorFlagRendered.__dict__.get("_default_source")
    build = getattr(getattr(schema_method, "__func__", None), "__wrapped__", None)
    store = cache_dir / "dbt_json_schemas" / f"{_schema_versions()}.json"
    try:
        kept: dict[str, dict] = json.loads(store.read_text())
    except (OSError, ValueError):
        kept = {}
    added: dict[str, dict] = {}

    # Installed only when `build` is callable; the ignores are for narrowing that does not reach into a closure.
    def json_schema(cls: type) -> dict:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if "<locals>" in name:  # not one class per name
            return schema_method.__func__(cls)  # type: ignore[union-attr]
        if name not in kept:
            added[name] = kept[name] = build(cls)  # type: ignore[misc]
        return kept[name]

    def default_source() -> str:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__")
            if module and module != behavior_flags.__name__:
                return module
            frame = frame.f_back
        return "Unknown"

    # The ignores: patching dbt's methods is the point, and their declared types do not allow it.
    if callable(build):
        dbtClassMixin.json_schema = classmethod(json_schema)  # type: ignore[method-assign, assignment]
    if isinstance(source_method, staticmethod):
        behavior_flags.BehaviorFlagRendered._default_source = staticmethod(default_source)  # type: ignore[method-assign]
    try:
        yield
    finally:
        if callable(build):
            dbtClassMixin.json_schema = schema_method  # type: ignore[method-assign, assignment]
        if isinstance(source_method, staticmethod):
            behavior_flags.BehaviorFlagRendered._default_source = source_method  # type: ignore[method-assign]
    if added:
        with contextlib.suppress(OSError, TypeError, ValueError):
            _write_atomically(store, json.dumps(kept, sort_keys=True))


def _schema_versions() -> str:
    from importlib.metadata import version

    names = ("dbt-core", "dbt-common", "dbt-adapters", "dbt-duckdb", "mashumaro")
    return hashlib.sha256(json.dumps([version(name) for name in names]).encode()).hexdigest()[:16]


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
