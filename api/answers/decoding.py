"""A read's entity hashes -> the served answers: features decoded by dtype, and each view's status.

Decisions, the same for single and batch reads:
- `features` holds every selected name; a feature that is null, whose view has
  no row for the entity, or whose view's row is expired is served as `null`.
- `views` holds every view owning a selected feature; a view with no row for the
  entity is reported as `{"event_timestamp": null, "status": "missing"}`.

The statuses follow feature_store.registry.freshness (the point-in-time join's ttl rule with the read
time as the spine time); what does not depend on the entity (a view's staleness,
its expiry cutoff) is judged once per request, not once per entity.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from api.core import metrics
from api.core.errors import CorruptValue
from feature_store.registry.freshness import expiry_cutoff

if TYPE_CHECKING:
    from api.reader.store import Read

MISSING_VIEW: dict[str, Any] = {"event_timestamp": None, "status": "missing"}
fromisoformat = datetime.fromisoformat


def answers(read: Read) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """`(features, views)` per id of the read, in order (a hash that is empty: the entity has none)."""
    now = read.now
    plan = [
        (
            selected.name,
            selected.timestamp_field,
            selected.features,
            expiry_cutoff(selected.view, now),
            "stale" if read.served.is_stale(selected.name, now) else "fresh",
        )
        for selected in read.selection.views
    ]
    names = read.selection.feature_names
    newest = metrics.newest_served()
    for key, fields in zip(read.keys, read.hashes, strict=True):
        features: dict[str, Any] = dict.fromkeys(names)
        views: dict[str, Any] = {}
        for view, timestamp_field, selected_features, cutoff, status in plan:
            event_text = fields.get(timestamp_field)
            if event_text is None:
                views[view] = MISSING_VIEW
                continue
            try:
                event_ts = fromisoformat(event_text)
            except ValueError as error:
                raise _corrupt(key, timestamp_field, "timestamp", event_text) from error
            if event_ts.tzinfo is None:
                event_ts = event_ts.replace(tzinfo=UTC)
            if cutoff is not None and event_ts < cutoff:
                views[view] = {"event_timestamp": event_text, "status": "expired"}
                continue
            views[view] = {"event_timestamp": event_text, "status": status}
            if event_ts > newest.get(view, metrics.EPOCH):
                metrics.served(view, event_ts)
            for name, dtype, decode in selected_features:
                text = fields.get(name)
                if text is None:
                    continue
                try:
                    features[name] = text if decode is None else decode(text)
                except ValueError as error:
                    raise _corrupt(key, name, dtype, text) from error
        yield features, views


def _corrupt(key: str, field: str, dtype: str, text: str) -> CorruptValue:
    return CorruptValue(
        f"field {field!r} of {key!r} holds {text[:80]!r}, which is not a valid {dtype}: "
        "run `python -m sync --full` to rewrite the online store"
    )
