"""Feature dtypes: their Arrow types, and the one text form of each in Redis.

Text forms round-trip exactly: int64 in decimal; float64 as the shortest repr
that round-trips; bool as `true`/`false`; timestamps in UTC, ISO 8601 with `Z`
(microseconds only where present); strings as they are; lists as JSON.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

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


def arrow_type_matches(dtype: str, arrow_type: pa.DataType) -> bool:
    """Whether a Parquet column of `arrow_type` can hold a feature of `dtype` without loss."""
    element = list_element(dtype)
    if element is not None:
        is_list = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
        return is_list and arrow_type_matches(element, arrow_type.value_type)
    if dtype == "int64":
        return pa.types.is_signed_integer(arrow_type) or arrow_type in (pa.uint8(), pa.uint16(), pa.uint32())
    if dtype == "float64":
        return pa.types.is_floating(arrow_type)
    if dtype == "bool":
        return pa.types.is_boolean(arrow_type)
    if dtype == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (
            pa.types.is_string_view(arrow_type)
        )
    if dtype == "timestamp":
        return pa.types.is_timestamp(arrow_type)
    return False


def format_timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with `Z`; naive datetimes are UTC. Microseconds only where present."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_timestamp_text(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def encode(value: Any, dtype: str) -> str:
    """The Redis text form of a non-null value."""
    element = list_element(dtype)
    if element is not None:
        return json.dumps([_json_element(item, element) for item in value], separators=(",", ":"))
    if dtype == "int64":
        return str(int(value))
    if dtype == "float64":
        return repr(float(value))
    if dtype == "bool":
        return "true" if value else "false"
    if dtype == "timestamp":
        return format_timestamp(value)
    return str(value)


def _json_element(value: Any, dtype: str) -> Any:
    if value is None:
        return None
    if dtype == "float64":
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ValueError("a list<float64> cannot hold nan or inf: JSON has no form for them")
    return value


def decode(text: str | bytes, dtype: str) -> Any:
    """A Python value from its Redis text form (timestamps as aware UTC datetimes)."""
    if isinstance(text, bytes):
        text = text.decode()
    if dtype == "timestamp":
        return parse_timestamp_text(text)
    return to_json_value(text, dtype)


def to_json_value(text: str | bytes, dtype: str) -> Any:
    """A JSON-ready value from its Redis text form; timestamps stay ISO strings.

    float64 nan/inf have no JSON form and are served as null.
    """
    if isinstance(text, bytes):
        text = text.decode()
    if dtype == "int64":
        return int(text)
    if dtype == "float64":
        number = float(text)
        return None if math.isnan(number) or math.isinf(number) else number
    if dtype == "bool":
        return text == "true"
    if list_element(dtype) is not None:
        return json.loads(text)
    return text
