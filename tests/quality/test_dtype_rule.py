"""The build and the sync apply one rule to a column's data_type and its dtype.

macros/feature_dtypes.sql (used by the feature_dtypes test) must answer as
feature_store.registry.manifest.data_type_agrees does; it is plain Jinja, so it renders here.
"""

from __future__ import annotations

import itertools
from typing import Any

import jinja2
import pytest

from feature_store.registry.manifest import data_type_agrees
from tests.conftest import PROJECT_DIR

DTYPES = ("int64", "float64", "bool", "string", "timestamp", "list<int64>", "list<float64>", "list<bool>",
          "list<string>", "nonsense")
SQL_TYPES = (
    "BIGINT", "bigint", "INTEGER", "int", "int64", "HUGEINT", "UBIGINT", "SMALLINT", "DOUBLE", "double precision",
    "FLOAT", "real", "DECIMAL(18,3)", "decimal(10, 2)", "BOOLEAN", "bool", "VARCHAR", "varchar(20)", "text",
    "string", "character varying", "TIMESTAMP", "timestamp with time zone", "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP_NS", "timestamp(6)", "timestamptz", "DATE", "BIGINT[]", "VARCHAR[]", "DOUBLE[]", "BOOLEAN[]",
    "array<bigint>", "array<string>", "array< double >", "[]", "array<>", "json", "", "  bigint  ",
)


@pytest.fixture(scope="module")
def jinja_rule():
    returned: list[object] = []

    def give_back(value: object) -> str:
        returned.append(value)
        return ""

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROJECT_DIR / "macros")))
    environment.globals["return"] = give_back
    macros: Any = environment.get_template("feature_dtypes.sql").module  # the macros are its attributes

    def agrees(dtype: str, data_type: str) -> bool:
        returned.clear()
        str(macros.feature_dtype_agrees(dtype, data_type))
        assert len(returned) == 1
        return bool(returned[0])

    return agrees


def test_the_macro_and_the_registry_agree_on_every_pair(jinja_rule) -> None:
    disagreements = [
        (dtype, data_type, jinja_rule(dtype, data_type), data_type_agrees(dtype, data_type))
        for dtype, data_type in itertools.product(DTYPES, SQL_TYPES)
        if jinja_rule(dtype, data_type) != data_type_agrees(dtype, data_type)
    ]
    assert not disagreements


def test_the_rule_itself(jinja_rule) -> None:
    assert jinja_rule("int64", "BIGINT") and jinja_rule("float64", "DOUBLE") and jinja_rule("bool", "BOOLEAN")
    assert jinja_rule("string", "VARCHAR") and jinja_rule("timestamp", "TIMESTAMP WITH TIME ZONE")
    assert jinja_rule("list<string>", "VARCHAR[]") and jinja_rule("list<int64>", "array<bigint>")
    assert not jinja_rule("int64", "VARCHAR") and not jinja_rule("float64", "DECIMAL(18,3)")
    assert not jinja_rule("string", "BOOLEAN") and not jinja_rule("list<int64>", "BIGINT")
