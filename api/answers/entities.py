"""The hot endpoints' work, shared by their FastAPI routes (documented) and the fast path (served).

Each function takes plain values and returns the JSON body as bytes, or raises an
ApiError; so both ways in give the same answer by construction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from api.answers.decoding import answers
from api.core.errors import EntityNotFound, InvalidRequest, PayloadTooLarge
from api.reader.store import OnlineStore


def parse_selection(text: str | None) -> list[str] | None:
    """`?features=a,b` as names; None (every feature) when the parameter is absent."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


async def _read_one(store: OnlineStore, entity: str, entity_id: str, names: list[str] | None):
    """One entity's read and its decoded values and views; EntityNotFound when it has no hash."""
    read = await store.read(entity, (entity_id,), names)
    if not read.hashes[0]:
        raise EntityNotFound(entity, read.ids[0])
    ((values, views),) = answers(read)
    return read, values, views


async def features_answer(store: OnlineStore, entity: str, entity_id: str, features: str | None) -> bytes:
    read, values, views = await _read_one(store, entity, entity_id, parse_selection(features))
    return orjson.dumps({"entity": entity, "id": read.ids[0], "features": values, "views": views})


async def batch_answer(store: OnlineStore, entity: str, body: bytes, max_ids: int) -> bytes:
    ids, names = parse_batch(body, max_ids)
    read = await store.read(entity, ids, names)
    results = [
        {"id": entity_id, "found": bool(fields), "features": values, "views": views}
        for entity_id, fields, (values, views) in zip(read.ids, read.hashes, answers(read), strict=True)
    ]
    return orjson.dumps({"entity": entity, "results": results})


async def context_answer(store: OnlineStore, entity: str, entity_id: str) -> bytes:
    """The entity's features as prompt text (`context`), with the features and views it was rendered from, and
    `values`: every feature's value with its status, event timestamp and age."""
    read, values, views = await _read_one(store, entity, entity_id, None)
    context, states = read.served.contexts[entity].answer(values, views, read.now)
    return orjson.dumps({"entity": entity, "id": read.ids[0], "context": context, "features": values,
                         "views": views, "values": states})


async def context_batch_answer(store: OnlineStore, entity: str, body: bytes, max_ids: int) -> bytes:
    """The context of every id, in order; an id without a hash is `found: false`, its context all placeholders."""
    ids, names = parse_batch(body, max_ids, fields=("ids",))
    read = await store.read(entity, ids, names)
    template = read.served.contexts[entity]
    results = []
    for entity_id, fields, (values, views) in zip(read.ids, read.hashes, answers(read), strict=True):
        context, states = template.answer(values, views, read.now)
        results.append({"id": entity_id, "found": bool(fields), "context": context, "features": values,
                        "views": views, "values": states})
    return orjson.dumps({"entity": entity, "results": results})


async def read_body(chunks: AsyncIterator[bytes], declared_length: str | None, limit: int) -> bytes:
    """The request body, refused (413) past `limit` bytes before it is all read."""
    too_large = PayloadTooLarge(f"the request body is over {limit} bytes: split the request", max_bytes=limit)
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise too_large
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
    return b"".join(parts)


def parse_json_object(body: bytes, shape: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise InvalidRequest(f"the body must be a JSON object: {shape}")
    return data


def check_batch_size(count: int, max_ids: int) -> None:
    if count > max_ids:
        raise PayloadTooLarge(f"{count} ids in one request; the cap is {max_ids}: split the request", max_ids=max_ids)


def parse_batch(
    body: bytes, max_ids: int, fields: tuple[str, ...] = ("ids", "features")
) -> tuple[list[Any], list[str] | None]:
    """`(ids, feature names)` from the JSON body, checked by hand: a big batch costs no model validation."""
    shape = '{"ids": [...], "features": [...]}' if "features" in fields else '{"ids": [...]}'
    data = parse_json_object(body, shape)
    unexpected = sorted(set(data) - set(fields))
    if unexpected:
        taken = " and ".join(f"`{name}`" for name in fields)
        raise InvalidRequest(f"unexpected field(s) {', '.join(unexpected)}: the body takes {taken}")
    ids = data.get("ids")
    if not isinstance(ids, list):
        raise InvalidRequest("`ids` is required: a JSON array of entity ids")
    check_batch_size(len(ids), max_ids)
    names = data.get("features")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise InvalidRequest("`features` must be a JSON array of feature names, or left out")
    return ids, names
