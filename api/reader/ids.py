"""Entity ids as requests give them, checked and made canonical before they name a Redis key.

An id becomes part of a key (`user:42`), so only a strict alphabet is accepted:
no `:`, `*`, whitespace, control or non-ASCII characters can reach Redis, and no
request can address a key other than an entity's hash.
"""

from __future__ import annotations

import re

from feature_store.registry.model import Entity

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_STRING_ID_LENGTH = 128
INT64_ID = re.compile(r"-?[0-9]{1,19}")
STRING_ID = re.compile(rf"[A-Za-z0-9_.\-]{{1,{MAX_STRING_ID_LENGTH}}}")

EntityId = int | str


class InvalidId(ValueError):
    """Why one id cannot name an entity; the message is shown to the client."""


def parse_id(entity: Entity, raw: object) -> EntityId:
    """The canonical id (an int for int64 keys, so `007` reads `user:7`), or InvalidId."""
    if entity.dtype == "int64":
        return _parse_int64(raw)
    return _parse_string(raw)


def _parse_int64(raw: object) -> int:
    expected = "an int64 id: an optional minus and at most 19 digits"
    if isinstance(raw, bool):
        raise InvalidId(f"expected {expected}, got a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        if not INT64_ID.fullmatch(raw):
            raise InvalidId(f"expected {expected}")
        value = int(raw)
    else:
        raise InvalidId(f"expected {expected}, got {type(raw).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidId("outside the int64 range")
    return value


def _parse_string(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidId(f"expected a string id, got {type(raw).__name__}")
    if not STRING_ID.fullmatch(raw):
        raise InvalidId(f"expected 1-{MAX_STRING_ID_LENGTH} characters from A-Z, a-z, 0-9, '_', '.', '-'")
    return raw
