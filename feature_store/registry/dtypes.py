"""Feature dtypes: their names, and which are valid.

`int64`, `float64`, `bool`, `string`, `timestamp`, and lists of the first four.
Their text forms in Redis are `feature_store.online.text`; their Arrow types are
checked by the offline store.
"""

from __future__ import annotations

SCALAR_DTYPES = ("int64", "float64", "bool", "string", "timestamp")
LIST_ELEMENT_DTYPES = ("int64", "float64", "bool", "string")


def is_valid_dtype(dtype: str) -> bool:
    element = list_element(dtype)
    return dtype in SCALAR_DTYPES or element in LIST_ELEMENT_DTYPES


def valid_dtypes_text() -> str:
    lists = ", ".join(f"list<{d}>" for d in LIST_ELEMENT_DTYPES)
    return f"{', '.join(SCALAR_DTYPES)}, {lists}"


def list_element(dtype: str) -> str | None:
    """`int64` for `list<int64>`; None for a scalar dtype."""
    if dtype.startswith("list<") and dtype.endswith(">"):
        return dtype[5:-1].strip()
    return None
