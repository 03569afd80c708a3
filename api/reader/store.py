"""The online reader: entity hashes from Redis, one pipelined round trip per request.

The registry is cached. Every read pipelines a GET of the registry version key
with the entity HGETALLs; only when the version differs from the cached one
(the sync published) are the registry and view reports reloaded. So a new
registry is picked up without a restart and without an extra round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.core import metrics
from api.core.errors import (
    InvalidIds,
    InvalidRegistry,
    NoRegistry,
    RedisUnreachable,
    UnknownEntity,
    UnknownFeatures,
)
from api.reader.ids import EntityId, InvalidId, parse_id
from api.reader.served_registry import Selection, ServedRegistry, SyncReport
from feature_store.online import keys
from feature_store.online.client import describe
from feature_store.online.reader.cluster_pipe import ClusterPipe
from feature_store.online.reader.pipe import RedisPipe

logger = logging.getLogger("api")

ANY_VERSION: Any = object()  # for `_reload`: whichever served is cached will do


@dataclass(frozen=True)
class Read:
    """What one request read: the registry it was judged against and one hash per id (empty: no hash)."""

    served: ServedRegistry
    selection: Selection
    ids: list[EntityId]
    keys: list[str]
    hashes: list[dict[str, str]]
    now: datetime


class OnlineStore:
    def __init__(self, pipe: RedisPipe | ClusterPipe, url: str, prefix: str, clock: Callable[[], datetime]) -> None:
        self.pipe = pipe
        self.url = describe(url)
        self.prefix = prefix
        self.clock = clock
        self._version_key = keys.registry_version_key(prefix)
        self._registry_key = keys.registry_key(prefix)
        self._served: ServedRegistry | None = None
        self._reload_lock = asyncio.Lock()

    async def close(self) -> None:
        await self.pipe.close()

    # --- reads ---------------------------------------------------------------------

    async def read(self, entity: str, raw_ids: Sequence[object], features: Sequence[str] | None) -> Read:
        """Validate against the cached registry, then fetch version + hashes in one round trip.

        A request the cached registry refuses costs one more round trip (the version), so a
        name the sync has just published is never refused.
        """
        served = await self.served_registry()
        try:
            selection, ids, entity_keys = self._resolve(served, entity, raw_ids, features)
        except (UnknownEntity, UnknownFeatures, InvalidIds):
            # Perhaps a name the sync has just published: check the version before refusing.
            served = await self.current_served_registry()
            selection, ids, entity_keys = self._resolve(served, entity, raw_ids, features)
        version, hashes = await self._fetch(entity_keys)
        if version != served.version:
            served = await self._reload(version)
            known_keys = entity_keys
            selection, ids, entity_keys = self._resolve(served, entity, raw_ids, features)
            if entity_keys != known_keys:  # the entity's key dtype changed with the new registry
                _, hashes = await self._fetch(entity_keys)
        metrics.entities_not_found(entity, sum(1 for fields in hashes if not fields))
        return Read(served, selection, ids, entity_keys, hashes, self.clock())

    def _resolve(
        self,
        served: ServedRegistry,
        entity: str,
        raw_ids: Sequence[object],
        features: Sequence[str] | None,
    ) -> tuple[Selection, list[EntityId], list[str]]:
        selection = served.select(entity, features)
        ids: list[EntityId] = []
        problems: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_ids):
            try:
                ids.append(parse_id(selection.entity, raw))
            except InvalidId as error:
                problems.append({"index": index, "id": raw, "reason": str(error)})
        if problems:
            raise InvalidIds(entity, problems[:20])
        return selection, ids, [keys.entity_key(self.prefix, entity, str(entity_id)) for entity_id in ids]

    async def _fetch(self, entity_keys: list[str]) -> tuple[str | None, list[dict[str, str]]]:
        try:
            return await self.pipe.read_hashes(self._version_key, entity_keys)
        except RedisError as error:
            raise self._unreachable(error) from error

    async def get_values(self, names: Sequence[str]) -> list[str | None]:
        """The string values of the store's own keys `names` (None where absent), in one round trip."""
        try:
            return await self.pipe.execute([("GET", name) for name in names]) if names else []
        except RedisError as error:
            raise self._unreachable(error) from error

    # --- the cached registry ----------------------------------------------------------

    async def served_registry(self) -> ServedRegistry:
        """The cached registry, loaded on first use; NoRegistry (503) when none is published."""
        if self._served is not None:
            return self._served
        return await self._reload(ANY_VERSION)

    async def current_served_registry(self) -> ServedRegistry:
        """The registry as published right now: one GET of the version, a reload when it moved."""
        try:
            (version,) = await self.pipe.execute([("GET", self._version_key)])
        except RedisError as error:
            raise self._unreachable(error) from error
        if self._served is not None and self._served.version == version:
            return self._served
        return await self._reload(version)

    async def _reload(self, seen_version: str | None) -> ServedRegistry:
        """Load the published registry, unless another request loaded `seen_version` meanwhile."""
        async with self._reload_lock:
            cached = self._served
            if cached is not None and (seen_version is ANY_VERSION or cached.version == seen_version):
                return cached
            try:
                served = await self._load()
            except RedisError as error:
                raise self._unreachable(error) from error
            if served is None:
                self._served = None
                raise NoRegistry()
            if cached is None or cached.version != served.version:
                logger.info(
                    "loaded feature registry version %s (%d views)",
                    served.version,
                    len(served.registry.views),
                )
            self._served = served
            return served

    async def _load(self) -> ServedRegistry | None:
        """Version and registry in one MULTI (the sync publishes them in one), then the view reports."""
        replies = await self.pipe.execute(
            [("MULTI",), ("GET", self._version_key), ("GET", self._registry_key), ("EXEC",)]
        )
        version, text = replies[-1]
        if text is None:
            return None
        try:
            published = orjson.loads(text)
            view_names = list(published["views"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise _unreadable_registry(error) from error
        state_hashes = await self.pipe.execute(
            [("HGETALL", keys.sync_report_key(self.prefix, view)) for view in view_names]
        )
        reports = {
            view: SyncReport.from_hash(fields) for view, fields in zip(view_names, state_hashes, strict=True)
        }
        try:
            return ServedRegistry(version, published, reports)
        except (KeyError, TypeError, ValueError) as error:
            raise _unreadable_registry(error) from error

    # --- readiness ---------------------------------------------------------------------

    async def readiness(self) -> tuple[bool, bool, str | None]:
        """(Redis reachable, registry published, the reason when either is not)."""
        try:
            (exists,) = await self.pipe.execute([("EXISTS", self._registry_key)])
        except RedisError as error:
            return False, False, self._unreachable(error).detail
        if not exists:
            return True, False, NoRegistry().detail
        return True, True, None

    def _unreachable(self, error: RedisError) -> RedisUnreachable:
        if isinstance(error, RedisTimeoutError):
            kind, reason = "timeout", "timed out"
        elif isinstance(error, RedisConnectionError):
            kind, reason = "connection", "connection failed"
        else:
            kind, reason = "command", "command failed"
        metrics.redis_error(kind)
        return RedisUnreachable(f"Redis at {self.url}: {reason} ({error}); retry when it is back")


def _unreadable_registry(error: Exception) -> InvalidRegistry:
    return InvalidRegistry(f"the registry in Redis is not readable ({error!r}): run `python -m sync`")
