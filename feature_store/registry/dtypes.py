"""Feature dtypes: their names, and the SQL types they are derived from.

`int64`, `float64`, `bool`, `string`, `timestamp`, and lists of the first four.
A feature's dtype is never written: it comes from its dbt contract `data_type`
(`dtype_of_sql_type`). Their text forms in Redis are `feature_store.online.text`;
their Arrow types are checked by the offline store.
"""

from __future__ import annotations

import re

SCALAR_DTYPES = ("int64", "float64", "bool", "string", "timestamp")
LIST_ELEMENT_DTYPES = ("int64", "float64", "bool", "string")


def list_element(dtype: str) -> str | None:
    """`int64` for `list<int64>`; None for a scalar dtype."""
    if dtype.startswith("list<") and dtype.endswith(">"):
        return dtype[5:-1].strip()
    return None


# The SQL types (a contract's `data_type`, or a built column's type, on DuckDB and Spark) that hold
# each dtype without loss. HUGEINT is left out: its values need not fit int64.
_SQL_TYPES = {
    "int64": ("bigint", "int8", "int64", "long", "integer", "int", "int4", "int32", "smallint", "int2", "tinyint"),
    "float64": ("double", "float8", "float64", "double precision", "float", "float4", "real"),
    "bool": ("boolean", "bool"),
    "string": ("varchar", "text", "string", "char", "bpchar", "character varying"),
    "timestamp": ("timestamp", "timestamp_us", "timestamp_ns", "timestamp_ms", "timestamp_s", "datetime",
                  "timestamptz", "timestamp with time zone", "timestamp without time zone"),
}
_DTYPE_OF_SQL_TYPE = {sql_type: dtype for dtype, sql_types in _SQL_TYPES.items() for sql_type in sql_types}


def dtype_of_sql_type(sql_type: str) -> str | None:
    """The feature dtype a SQL type holds (`BIGINT` -> int64, `varchar[]` and `array<string>` ->
    list<string>), or None when it holds none of them."""
    normalized = re.sub(r"\(.*\)", "", sql_type.strip().lower()).strip()  # decimal(18, 3) -> decimal
    inner = re.match(r"^(?:array<(.+)>|(.+)\[\])$", normalized)
    if inner:
        element = dtype_of_sql_type(inner.group(1) or inner.group(2))
        return f"list<{element}>" if element in LIST_ELEMENT_DTYPES else None
    return _DTYPE_OF_SQL_TYPE.get(normalized)


def supported_sql_types_text() -> str:
    scalars = "; ".join(f"{', '.join(sql_types)} ({dtype})" for dtype, sql_types in _SQL_TYPES.items())
    elements = f"{', '.join(LIST_ELEMENT_DTYPES[:-1])} or {LIST_ELEMENT_DTYPES[-1]}"
    return (f"{scalars}; or an array of an {elements} type, e.g. `bigint[]` (list<int64>) or "
            "`array<string>` (list<string>)")
