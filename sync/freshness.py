"""How the read path judges a view's values for one entity: fresh, stale or expired.

The ttl rule is the point-in-time join's, with the read time as the spine time:
a row is valid while `event_ts >= now - ttl`. A view is stale when its last
successful sync is older than its freshness (the same for every entity).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sync.registry import FeatureView

Status = Literal["fresh", "stale", "expired"]


def is_expired(view: FeatureView, event_ts: datetime, now: datetime) -> bool:
    return view.ttl is not None and event_ts < now - view.ttl


def is_stale(view: FeatureView, last_sync_at: datetime | None, now: datetime) -> bool:
    return last_sync_at is None or now - last_sync_at > view.freshness


def view_status(
    view: FeatureView, event_ts: datetime, last_sync_at: datetime | None, now: datetime
) -> Status:
    """`expired` wins over `stale`: an expired row is served as missing either way."""
    if is_expired(view, event_ts, now):
        return "expired"
    if is_stale(view, last_sync_at, now):
        return "stale"
    return "fresh"
