"""The layout's rules, held by the code's own imports.

The API serves from Redis alone: it may use the registry's model and the online
store's reader, never the sync, the offline store, the manifest reader or the
bulk writers, so the serving process loads neither DuckDB nor pyarrow. The sync
never imports the API, and the core imports neither.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What a package may not import (a module or anything under it).
FORBIDDEN = {
    "api": ("sync", "feature_store.offline", "feature_store.registry.manifest", "feature_store.online.writes",
            "duckdb", "pyarrow"),
    "sync": ("api",),
    "feature_store": ("sync", "api"),
    "feature_store.registry": ("feature_store.offline", "feature_store.online", "duckdb", "pyarrow", "redis"),
    "feature_store.online": ("feature_store.offline", "duckdb"),
    "feature_store.monitoring": ("feature_store.offline", "feature_store.online", "duckdb", "pyarrow", "redis"),
    "feature_store.online.reader": ("feature_store.online.writes", "pyarrow"),
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth of the file (lazy imports in functions count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_its_layer_may(package: str) -> None:
    folder = REPO / package.replace(".", "/")
    broken = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in sorted(folder.rglob("*.py"))
        for line, module in imports_of(path)
        if any(under(module, banned) for banned in FORBIDDEN[package])
    ]
    assert not broken, "\n".join(broken)


def test_the_api_process_loads_neither_duckdb_nor_pyarrow() -> None:
    probe = (
        "import json, sys; from api.app import create_app; from api.core.config import Settings; "
        "create_app(Settings.from_env()); "
        "print(json.dumps(sorted(m for m in ('duckdb', 'pyarrow', 'numpy', 'pandas', 'sync') if m in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
