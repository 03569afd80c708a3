"""The build and the sync derive one dtype from a column's SQL type.

macros/feature_dtypes.sql (used by the feature_dtypes test) must answer as
feature_store.registry.dtypes.dtype_of_sql_type does; it is plain Jinja, so it renders here.
"""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from feature_store.registry.dtypes import dtype_of_sql_type
from tests.conftest import PROJECT_DIR

SQL_TYPES = (
    "BIGINT", "bigint", "INTEGER", "int", "int64", "long", "TINYINT", "HUGEINT", "UBIGINT", "SMALLINT", "DOUBLE",
    "double precision", "FLOAT", "real", "DECIMAL(18,3)", "decimal(10, 2)", "BOOLEAN", "bool", "VARCHAR",
    "varchar(20)", "text", "string", "character varying", "TIMESTAMP", "timestamp with time zone",
    "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "timestamp(6)", "timestamptz", "DATE", "BIGINT[]", "VARCHAR[]",
    "DOUBLE[]", "BOOLEAN[]", "TIMESTAMP[]", "BIGINT[][]", "varchar(20)[]", "array<bigint>", "array<string>",
    "array< double >", "array<boolean>", "array<timestamp>", "array<array<int>>", "array<decimal(10,2)>", "[]",
    "array<>", "json", "struct<a:int>", "map<string,bigint>", "", "  bigint  ", "int64", "float64", "list<int64>",
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

    def dtype_of(sql_type: str) -> str | None:
        returned.clear()
        str(macros.feature_dtype_of(sql_type))
        assert len(returned) == 1
        return returned[0]  # type: ignore[return-value]

    return dtype_of


def test_the_macro_and_the_registry_agree_on_every_type(jinja_rule) -> None:
    disagreements = [
        (sql_type, jinja_rule(sql_type), dtype_of_sql_type(sql_type))
        for sql_type in SQL_TYPES
        if jinja_rule(sql_type) != dtype_of_sql_type(sql_type)
    ]
    assert not disagreements


def test_the_rule_itself(jinja_rule) -> None:
    assert [jinja_rule(t) for t in ("BIGINT", "integer", "DOUBLE", "real", "BOOLEAN", "VARCHAR", "text")] == [
        "int64", "int64", "float64", "float64", "bool", "string", "string"]
    assert jinja_rule("TIMESTAMP WITH TIME ZONE") == jinja_rule("timestamp") == "timestamp"
    assert jinja_rule("VARCHAR[]") == jinja_rule("array<string>") == "list<string>"
    assert jinja_rule("BIGINT[]") == jinja_rule("array<bigint>") == "list<int64>"
    for unsupported in ("DECIMAL(18,3)", "HUGEINT", "DATE", "TIMESTAMP[]", "BIGINT[][]", "json", ""):
        assert jinja_rule(unsupported) is None, unsupported
