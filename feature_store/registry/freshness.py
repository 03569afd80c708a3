"""How the read path judges a view's values for one entity: fresh, stale or expired.

The ttl rule is the point-in-time join's, with the read time as the spine time:
a row is valid while `event_ts >= now - ttl`. A view is stale when its last
successful sync is older than its freshness (the same for every entity).
"""

from __future__ import annotations

from datetime import datetime

from feature_store.registry.model import FeatureView


def expiry_cutoff(view: FeatureView, now: datetime) -> datetime | None:
    """Rows with an event timestamp before this are expired at `now` (None: the view has no ttl)."""
    return None if view.ttl is None else now - view.ttl


def is_stale(view: FeatureView, last_sync_at: datetime | None, now: datetime) -> bool:
    return last_sync_at is None or now - last_sync_at > view.freshness
