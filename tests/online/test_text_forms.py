"""Text forms in Redis: one per dtype, exact round trips, and DuckDB renders the same text."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from feature_store.offline import connection as duckdb_connection
from feature_store.offline import history as offline
from feature_store.offline.schema import arrow_type_matches
from feature_store.online.text import decode, encode, format_timestamp, to_json_value


@pytest.mark.parametrize("value,dtype,text", [
    (42, "int64", "42"), (-9223372036854775808, "int64", "-9223372036854775808"),
    (0.1, "float64", "0.1"), (1e22, "float64", "1e+22"), (2.0, "float64", "2.0"),
    (True, "bool", "true"), (False, "bool", "false"),
    ("documentary", "string", "documentary"), ("", "string", ""),
    (datetime(2026, 1, 2, 3, 4, 5), "timestamp", "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 3, 4, 5, 7), "timestamp", "2026-01-02T03:04:05.000007Z"),
    (datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "timestamp", "2026-01-02T03:04:05Z"),
    ([1, 2, 3], "list<int64>", "[1,2,3]"), (["a", "b"], "list<string>", '["a","b"]'),
])
def test_text_forms(value, dtype: str, text: str) -> None:
    assert encode(value, dtype) == text
    decoded = decode(text, dtype)
    if dtype == "timestamp":
        assert decoded == (value if value.tzinfo else value.replace(tzinfo=UTC))
    else:
        assert decoded == value


def test_floats_round_trip_exactly() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isnan(value):
            continue
        assert decode(encode(value, "float64"), "float64") == value


def test_duckdb_renders_the_python_text_forms() -> None:
    """The sync encodes in SQL; its text must be what `encode` gives (and decodes back)."""
    rng = random.Random(3)
    floats = [0.1, 1e22, 1e-7, 2.0, -0.0, math.inf, -math.inf, math.nan]
    floats += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(2000)]
    stamps = [datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 0, 0, 1), datetime(1969, 12, 31, 23, 59, 59, 500000)]
    connection = duckdb_connection.connect()
    connection.register("floats", pa.table({"f": floats}))
    connection.register("stamps", pa.table({"t": pa.array(stamps, pa.timestamp("us"))}))
    float_sql = offline.text_expression("f", "float64")
    for value, (text,) in zip(floats, connection.sql(f"select {float_sql} from floats").fetchall(), strict=True):
        assert text == encode(value, "float64")
    stamp_sql = offline.text_expression("t", "timestamp")
    rendered = connection.sql(f"select {stamp_sql} from stamps").fetchall()
    assert [row[0] for row in rendered] == [format_timestamp(s) for s in stamps]


def test_json_values_for_the_api() -> None:
    assert to_json_value("nan", "float64") is None
    assert to_json_value("2026-01-01T00:00:00Z", "timestamp") == "2026-01-01T00:00:00Z"
    assert to_json_value(b"7", "int64") == 7


@pytest.mark.parametrize("dtype,arrow_type,ok", [
    ("int64", pa.int64(), True), ("int64", pa.int32(), True), ("int64", pa.uint64(), False),
    ("int64", pa.float64(), False), ("float64", pa.float32(), True), ("bool", pa.bool_(), True),
    ("string", pa.large_string(), True), ("string", pa.int64(), False),
    ("timestamp", pa.timestamp("us", tz="UTC"), True), ("timestamp", pa.date32(), False),
    ("list<int64>", pa.list_(pa.int64()), True), ("list<int64>", pa.list_(pa.string()), False),
])
def test_arrow_type_compatibility(dtype: str, arrow_type: pa.DataType, ok: bool) -> None:
    assert arrow_type_matches(dtype, arrow_type) is ok
