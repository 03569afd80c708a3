"""Unit checks of the pieces the read path leans on: ids, decoders, RESP packing, settings, the pool."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio.connection import Connection

from api.answers.dtype_decoders import decoder_for
from api.core.config import Settings, SettingsError
from api.reader.ids import InvalidId, parse_id
from feature_store.online.reader.pipe import RedisPipe, pack_commands
from feature_store.online.text import encode, to_json_value
from feature_store.registry.dtypes import LIST_ELEMENT_DTYPES, SCALAR_DTYPES
from tests.api.online import TITLE, USER

SAMPLES: dict[str, list[Any]] = {
    "int64": [0, 1, -1, 2**63 - 1, -(2**63), 42],
    "float64": [0.0, -0.0, 0.1 + 0.2, 1e300, -1e-300, 5e-324, 3.0, math.nan, math.inf, -math.inf],
    "bool": [True, False],
    "string": ["", "NL", "héllo wörld", "a,b", '{"not": "json"}', "with\nnewline"],
    "timestamp": [datetime(2026, 11, 27, 12, 0, tzinfo=UTC), datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)],
    "list<int64>": [[], [1, -2, 2**62], [None, 3]],
    "list<float64>": [[0.5, -1.25], [1e300]],
    "list<bool>": [[True, False]],
    "list<string>": [["drama", "sci-fi"], ["é", ""]],
}


def test_samples_cover_every_dtype() -> None:
    assert set(SAMPLES) == set(SCALAR_DTYPES) | {f"list<{element}>" for element in LIST_ELEMENT_DTYPES}


@pytest.mark.parametrize("dtype", sorted(SAMPLES))
def test_decoders_agree_with_the_sync_text_forms(dtype: str) -> None:
    decode = decoder_for(dtype)
    for value in SAMPLES[dtype]:
        text = encode(value, dtype)
        decoded = text if decode is None else decode(text)
        expected = to_json_value(text, dtype)
        assert decoded == expected or (decoded is None and expected is None), (dtype, text)
        assert type(decoded) is type(expected), (dtype, text)


def test_unknown_dtype_falls_back_to_the_sync_decoder() -> None:
    decode = decoder_for("decimal")
    assert decode is not None and decode("1.5") == "1.5"


def test_commands_are_packed_as_redis_py_packs_them() -> None:
    commands = [("GET", "{_fs}:version"), ("HGETALL", "user:42"), ("HGETALL", "title:tt-é")]
    reference = b"".join(Connection().pack_commands(commands))

    assert pack_commands(commands) == reference


@pytest.mark.parametrize(("raw", "expected"), [("42", 42), ("007", 7), ("-3", -3), ("-0", 0), (5, 5)])
def test_int64_ids_are_canonical(raw: object, expected: int) -> None:
    assert parse_id(USER, raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "-", "+1", "1.5", "0x1", "1 ", "١", "9223372036854775808", True, 1.0, None]
)
def test_malformed_int64_ids_are_refused(raw: object) -> None:
    with pytest.raises(InvalidId):
        parse_id(USER, raw)


@pytest.mark.parametrize("raw", ["", "a:b", "a*", "a?", "a b", "a\n", "ü", "x" * 129, 7])
def test_malformed_string_ids_are_refused(raw: object) -> None:
    with pytest.raises(InvalidId):
        parse_id(TITLE, raw)


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://example:6380/1",
            "REDIS_KEY_PREFIX": "fs:",
            "FEATURE_STORE_AS_OF": "2026-11-27T12:00:00Z",
            "API_MAX_BATCH_IDS": "50",
            "API_REDIS_TIMEOUT_SECONDS": "0.25",
        }
    )

    assert (settings.redis_url, settings.key_prefix, settings.max_batch_ids) == (
        "redis://example:6380/1",
        "fs:",
        50,
    )
    assert settings.redis_timeout_seconds == 0.25
    assert settings.clock()() == datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert Settings.from_env({}, as_of="2026-01-01T00:00:00Z").as_of == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "environ",
    [{"API_MAX_BATCH_IDS": "many"}, {"API_MAX_BATCH_IDS": "0"}, {"FEATURE_STORE_AS_OF": "soon"}],
)
def test_bad_settings_are_refused_with_the_variable_named(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    assert any(
        word in str(raised.value) for word in ("API_MAX_BATCH_IDS", "max_batch_ids", "FEATURE_STORE_AS_OF")
    )


@pytest.mark.anyio
async def test_more_concurrent_requests_than_connections_wait_their_turn(redis_url: str) -> None:
    pipe = RedisPipe(redis_url, max_connections=2, timeout=2.0)
    try:
        replies = await asyncio.gather(*(pipe.execute([("PING",), ("ECHO", str(n))]) for n in range(50)))
        opened = len(pipe._connections)
    finally:
        await pipe.close()

    assert [reply[1] for reply in replies] == [str(n) for n in range(50)]
    assert opened == 2
