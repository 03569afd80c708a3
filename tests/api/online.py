"""Writes the online layout the sync writes (entity hashes, registry, view reports), for API tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from feature_store.online import keys
from feature_store.online.text import encode, format_timestamp
from feature_store.registry.model import Entity, Feature, FeatureView, Registry

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def view(
    name: str,
    entity: str,
    features: Mapping[str, str],
    freshness: timedelta = timedelta(hours=1),
    ttl: timedelta | None = timedelta(days=30),
) -> FeatureView:
    return FeatureView(
        name=name,
        entity=entity,
        timestamp="event_timestamp",
        freshness=freshness,
        ttl=ttl,
        owner="growth",
        description=f"The {name} view.",
        location=f"data/features/{name}.parquet",
        checksum=f"checksum-{name}",
        features=tuple(
            Feature(feature, dtype, name, f"About {feature}.") for feature, dtype in features.items()
        ),
    )


USER = Entity("user", ("user_id",), "int64", "A subscriber.")
TITLE = Entity("title", ("title_id",), "string", "A title in the catalog.")
USER_PROFILE = view(
    "user_profile",
    "user",
    {
        "country": "string",
        "signup_at": "timestamp",
        "is_premium": "bool",
        "favorite_genres": "list<string>",
        "recent_ratings": "list<float64>",
    },
    freshness=timedelta(days=1),
    ttl=None,
)
USER_WATCH_STATS = view(
    "user_watch_stats", "user", {"watch_count_30d": "int64", "avg_minutes_30d": "float64"}
)
TITLE_STATS = view(
    "title_stats", "title", {"view_count_7d": "int64", "avg_rating": "float64"}, ttl=timedelta(days=7)
)
DEMO = Registry(entities=(USER, TITLE), views=(USER_PROFILE, USER_WATCH_STATS, TITLE_STATS), project="demo")


def ttl_of(feature_view: FeatureView) -> timedelta:
    """The ttl of a view that has one."""
    if feature_view.ttl is None:
        raise ValueError(f"{feature_view.name} has no ttl")
    return feature_view.ttl


def with_views(registry: Registry, *views: FeatureView) -> Registry:
    """`registry` with `views` replacing the ones of the same name (or added)."""
    by_name = {feature_view.name: feature_view for feature_view in (*registry.views, *views)}
    return replace(registry, views=tuple(by_name.values()))


class OnlineWriter:
    """A plain redis client writing what `python -m sync` would, key for key."""

    def __init__(self, url: str, prefix: str = "") -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix

    def close(self) -> None:
        self.client.close()

    def publish(
        self,
        registry: Registry = DEMO,
        last_sync_at: datetime | Mapping[str, datetime | None] = NOW,
    ) -> int:
        """Registry and view reports in one MULTI with the version INCR, as the sync publishes them."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(keys.registry_key(self.prefix), registry.to_json())
            for feature_view in registry.views:
                synced = (
                    last_sync_at.get(feature_view.name) if isinstance(last_sync_at, Mapping) else last_sync_at
                )
                if synced is None:
                    continue
                pipe.hset(
                    keys.sync_report_key(self.prefix, feature_view.name),
                    mapping={
                        "last_sync_at": format_timestamp(synced),
                        "rows": "1",
                        "seconds": "0.01",
                        "checksum": feature_view.checksum,
                        "as_of": format_timestamp(synced),
                    },
                )
            pipe.incr(keys.registry_version_key(self.prefix))
            return int(pipe.execute()[-1])

    def write(
        self,
        entity: str,
        entity_id: str | int,
        feature_view: FeatureView,
        values: Mapping[str, Any],
        event_ts: datetime,
    ) -> str:
        """One view's row for one entity: features in their text forms, nulls as absent fields."""
        key = keys.entity_key(self.prefix, entity, str(entity_id))
        dtypes = {feature.name: feature.dtype for feature in feature_view.features}
        present: dict[FieldT, EncodableT] = {
            name: encode(value, dtypes[name]) for name, value in values.items() if value is not None
        }
        absent = [name for name in dtypes if values.get(name) is None]
        with self.client.pipeline(transaction=True) as pipe:
            if absent:
                pipe.hdel(key, *absent)
            present[keys.timestamp_field(feature_view.name)] = format_timestamp(event_ts)
            pipe.hset(key, mapping=present)
            pipe.execute()
        return key


# The demo's entity with a context template: a format spec, a bool, a list and a ttl'd view.
USER_CONTEXT_TEMPLATE = (
    "User context: from {country}, premium: {is_premium}, likes {favorite_genres}, "
    "watched {watch_count_30d} titles in last 30 days ({avg_minutes_30d:.1f} min each)."
)
USER_WITH_CONTEXT = replace(USER, context_template=USER_CONTEXT_TEMPLATE)
CONTEXT_DEMO = replace(DEMO, entities=(USER_WITH_CONTEXT, TITLE))
