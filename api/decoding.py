"""One entity's hash -> the served answer: features decoded by dtype, and each view's status.

Decisions, the same for single and batch reads:
- `features` holds every selected name; a feature that is null, whose view has
  no row for the entity, or whose view's row is expired is served as `null`.
- `views` holds every view owning a selected feature; a view with no row for the
  entity is reported as `{"event_timestamp": null, "status": "missing"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api import metrics
from api.errors import CorruptValue
from api.snapshot import RegistrySnapshot, Selection
from sync.freshness import view_status

MISSING_VIEW: dict[str, Any] = {"event_timestamp": None, "status": "missing"}


def assemble(
    selection: Selection,
    snapshot: RegistrySnapshot,
    fields: Mapping[str, str],
    now: datetime,
    key: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(features, views)` for one entity hash (`fields` empty when the entity has no hash)."""
    features: dict[str, Any] = dict.fromkeys(selection.feature_names)
    views: dict[str, Any] = {}
    newest = metrics.newest_served()
    for selected in selection.views:
        event_text = fields.get(selected.timestamp_field)
        if event_text is None:
            views[selected.name] = MISSING_VIEW
            continue
        try:
            event_ts = event_time(event_text)
        except ValueError as error:
            raise _corrupt(key, selected.timestamp_field, "timestamp", event_text) from error
        status = view_status(selected.view, event_ts, snapshot.last_sync_at(selected.name), now)
        views[selected.name] = {"event_timestamp": event_text, "status": status}
        if status == "expired":
            continue
        if event_ts > newest.get(selected.name, metrics.EPOCH):
            metrics.served(selected.name, event_ts)
        for name, dtype, decode in selected.features:
            text = fields.get(name)
            if text is None:
                continue
            try:
                features[name] = text if decode is None else decode(text)
            except ValueError as error:
                raise _corrupt(key, name, dtype, text) from error
    return features, views


def event_time(text: str) -> datetime:
    """A `_ts:{view}` value (ISO 8601 UTC with `Z`) as an aware datetime; naive text is read as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _corrupt(key: str, field: str, dtype: str, text: str) -> CorruptValue:
    return CorruptValue(
        f"field {field!r} of {key!r} holds {text[:80]!r}, which is not a valid {dtype}: "
        "run `python -m sync --full` to rewrite the online store"
    )
