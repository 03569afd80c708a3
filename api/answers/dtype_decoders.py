"""Per-dtype decoders from the Redis text form to JSON-ready values, chosen once per registry.

They give exactly what `feature_store.online.text.to_json_value` gives (a test holds them to it),
without its dispatch on every value: strings and timestamps need no work at all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from feature_store.online.text import to_json_value
from feature_store.registry.dtypes import list_element

Decoder = Callable[[str], Any] | None  # None: the text is the value


def _float(text: str) -> float | None:
    number = float(text)
    return number if number - number == 0.0 else None  # NaN and ±inf (x - x is NaN) have no JSON form


def _bool(text: str) -> bool:
    return text == "true"


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(str(error)) from error


_SCALARS: dict[str, Decoder] = {
    "int64": int,
    "float64": _float,
    "bool": _bool,
    "string": None,
    "timestamp": None,
}


def decoder_for(dtype: str) -> Decoder:
    if dtype in _SCALARS:
        return _SCALARS[dtype]
    if list_element(dtype) is not None:
        return _json
    return partial(to_json_value, dtype=dtype)  # a dtype added later: correct, if slower
