"""The one text form of each dtype in Redis, and its way back.

Text forms round-trip exactly: int64 in decimal; float64 as the shortest repr
that round-trips; bool as `true`/`false`; timestamps in UTC, ISO 8601 with `Z`
(microseconds only where present); strings as they are; lists as JSON.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from feature_store.registry.dtypes import list_element


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
