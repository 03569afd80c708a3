"""Each view's kept statistics and drift, as the sync published them in Redis."""

from __future__ import annotations

from collections.abc import Sequence

from api.reader.store import OnlineStore
from feature_store.monitoring.profile import ViewMonitoring
from feature_store.online.keys import monitoring_key


async def read_published(store: OnlineStore, views: Sequence[str]) -> dict[str, ViewMonitoring]:
    """The views' published monitoring (a view never synced since monitoring began is absent)."""
    replies = await store.get_values([monitoring_key(store.prefix, view) for view in views])
    found = {}
    for view, raw in zip(views, replies, strict=True):
        if raw:
            try:
                found[view] = ViewMonitoring.from_json(raw)
            except (ValueError, KeyError, TypeError):
                continue  # written by another version: served as not yet synced, the next sync rewrites it
    return found
