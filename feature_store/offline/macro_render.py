"""dbt's macros rendered from its manifest, without starting dbt.

`target/manifest.json` holds the text (`macro_sql`) of every macro dbt loaded: the
project's and those of dbt and its adapter. This module renders them with Jinja as dbt
does for a compile (a sandboxed text environment with the `do` and loop-control
extensions, `return()` ending a macro with its value, macros calling each other through
the same namespace), providing the few parts of dbt's context that the macros it serves
use: adapter.dispatch (dbt's search order, the project's `dispatch:` config included),
`dbt.<macro>`, var() over the project's `vars:`, exceptions.raise_compiler_error,
`graph.nodes`, `modules.re`, `execute`, api.Column.translate_type and get_columns_in_query
(answered from columns the caller knows, with no query run). A name outside these is
undefined, and using it fails as a missing name does in dbt.

What it renders is checked against `dbt compile` of the same calls by the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from feature_store.errors import FeatureStoreError

GLOBAL_PACKAGE = "dbt"  # dbt's own macros, with its adapter's, form this one namespace
# dbt-adapters' base Column.TYPE_LABELS, which DuckDB's Column keeps.
_TYPE_LABELS = {"STRING": "TEXT"}


class MacroRenderError(FeatureStoreError):
    """A macro raised a compiler error, or uses a part of dbt's context this renderer lacks."""


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _return(value: Any) -> None:
    raise _Return(value)


def _raise_compiler_error(message: str, node: Any = None) -> None:
    raise MacroRenderError(str(message))


class Relation:
    """A model as ref() gives it: database, schema and identifier, rendered as dbt's relation name."""

    def __init__(self, database: str, schema: str, identifier: str, rendered: str) -> None:
        self.database = database
        self.schema = schema
        self.identifier = identifier
        self._rendered = rendered

    def __str__(self) -> str:
        return self._rendered

    def __repr__(self) -> str:
        return f"<Relation {self._rendered}>"


class _Column:
    @staticmethod
    def translate_type(dtype: str) -> str:
        return _TYPE_LABELS.get(dtype.upper(), dtype)


class _Api:
    Column = _Column


class _Exceptions:
    raise_compiler_error = staticmethod(_raise_compiler_error)


class _Macro:
    """One manifest macro, compiled on its first call; its value is what it return()s, else its text."""

    def __init__(self, renderer: MacroRenderer, package: str, name: str, sql: str, path: str) -> None:
        self.renderer, self.package, self.name, self.sql, self.path = renderer, package, name, sql, path
        self._function: Callable[..., Any] | None = None

    @property
    def used(self) -> bool:
        return self._function is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            template = self.renderer.environment.from_string(self.sql)
            module = template.make_module(vars=self.renderer.context)
            self._function = getattr(module, self.name)
        try:
            return self._function(*args, **kwargs)
        except _Return as returned:
            return returned.value
        except jinja2.TemplateError as error:
            raise MacroRenderError(f"macro {self.package}.{self.name}: {error}") from error


class _Adapter:
    def __init__(self, renderer: MacroRenderer) -> None:
        self.renderer = renderer

    def dispatch(self, macro_name: str, macro_namespace: str | None = None) -> _Macro:
        return self.renderer.dispatch(macro_name, macro_namespace)


class MacroRenderer:
    """The macros of one manifest, callable from Python as dbt's compile would call them."""

    def __init__(self, manifest: Mapping[str, Any], project_config: Mapping[str, Any],
                 spine_columns: Callable[[str], list[str]]) -> None:
        metadata = manifest.get("metadata", {})
        self.root = str(metadata.get("project_name") or project_config.get("name"))
        self.adapter_type = str(metadata.get("adapter_type") or "duckdb")
        self.environment = jinja2.sandbox.SandboxedEnvironment(extensions=["jinja2.ext.do",
                                                                           "jinja2.ext.loopcontrols"])
        packages: dict[str, dict[str, _Macro]] = {}
        for macro in manifest.get("macros", {}).values():
            package, name = macro["package_name"], macro["name"]
            packages.setdefault(package, {})[name] = _Macro(self, package, name, macro["macro_sql"],
                                                    macro.get("original_file_path", ""))
        # dbt's internal packages (dbt, dbt_<adapter>) form one namespace; the adapter's win.
        internal = [GLOBAL_PACKAGE, f"dbt_{self.adapter_type}"]
        self.global_macros: dict[str, _Macro] = {}
        for package in internal:
            self.global_macros.update(packages.pop(package, {}))
        self.packages = packages
        self.search_orders = {
            entry["macro_namespace"]: list(entry["search_order"])
            for entry in project_config.get("dispatch") or [] if isinstance(entry, dict)
        }
        self.variables = _project_vars(project_config, self.root)
        self.context: dict[str, Any] = {
            # dbt's lookup order, last here wins: the project's macros, packages by name, dbt, dbt's macros.
            **self.global_macros,
            GLOBAL_PACKAGE: self.global_macros,
            **packages,
            **packages.get(self.root, {}),
            "return": _return,
            "exceptions": _Exceptions,
            "adapter": _Adapter(self),
            "api": _Api,
            "var": self.var,
            "execute": True,
            "graph": {"nodes": manifest.get("nodes", {})},
            "modules": {"re": re},
            # The one query the served macros run: the spine's columns, which the caller knows.
            "get_columns_in_query": lambda sql: spine_columns(str(sql)),
        }

    def var(self, name: str, default: Any = None) -> Any:
        return self.variables.get(name, default)

    def macro(self, name: str) -> _Macro:
        found = self.context.get(name)
        if not isinstance(found, _Macro):
            raise MacroRenderError(f"the manifest has no macro {name!r}: run `dbt parse`")
        return found

    def _from_package(self, package: str | None, name: str) -> _Macro | None:
        if package is None:
            found = self.context.get(name)
            return found if isinstance(found, _Macro) else None
        if package == GLOBAL_PACKAGE:
            return self.global_macros.get(name)
        return self.packages.get(package, {}).get(name)

    def dispatch(self, macro_name: str, macro_namespace: str | None = None) -> _Macro:
        """As dbt's adapter.dispatch: per package of the search order, the adapter's prefix, then `default`."""
        packages: Sequence[str | None] = [None]
        if macro_namespace is not None:
            packages = self.search_orders.get(macro_namespace) or [self.root, macro_namespace]
        for package in packages:
            for prefix in (self.adapter_type, "default"):
                found = self._from_package(package, f"{prefix}__{macro_name}")
                if found is not None:
                    return found
        raise MacroRenderError(f"adapter.dispatch: no macro {macro_name!r} for {self.adapter_type} "
                               f"(namespace {macro_namespace!r})")

    def changed_since_parse(self, project_dir: Path) -> list[str]:
        """The project's macro files, among those rendered, whose text is no longer what the manifest holds."""
        changed = set()
        for macro in self.packages.get(self.root, {}).values():
            if macro.used:
                try:
                    current = (project_dir / macro.path).read_text()
                except OSError:
                    current = ""
                if macro.sql not in current:
                    changed.add(macro.path)
        return sorted(changed)

    def relation(self, model: str) -> Relation:
        """ref(model) of the root project, from its node in the manifest."""
        for node in self.context["graph"]["nodes"].values():
            if node.get("resource_type") == "model" and node.get("name") == model:
                return Relation(node["database"], node["schema"], node.get("alias") or model,
                                node["relation_name"])
        raise MacroRenderError(f"the manifest has no model {model!r}: run `dbt parse`")


def _project_vars(config: Mapping[str, Any], root: str) -> dict[str, Any]:
    """dbt_project.yml's `vars:`: the global ones, then the root project's own block."""
    declared = config.get("vars") or {}
    if not isinstance(declared, dict):
        return {}
    variables = {key: value for key, value in declared.items() if not isinstance(value, dict) or key != root}
    scoped = declared.get(root)
    if isinstance(scoped, dict):
        variables.update(scoped)
    return variables


def project_config(project_dir: Path) -> dict[str, Any]:
    """dbt_project.yml as YAML ({} when it cannot be read: the manifest's own metadata is used)."""
    try:
        config = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return config if isinstance(config, dict) else {}
