"""A brute-force point-in-time join in plain Python: the definition the SQL versions must equal.

For each spine row and view: among the view's rows with the same keys and
`spine_ts - ttl <= feature_ts <= spine_ts`, the one with the greatest
(feature_ts, created_ts) wins, a NULL created timestamp losing to any other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class ViewSpec:
    name: str
    keys: tuple[str, ...]
    timestamp: str
    features: tuple[str, ...]
    ttl: timedelta | None = None
    created: str | None = None


def _rank(view: ViewSpec, row: Row) -> tuple[Any, ...]:
    if view.created is None:
        return (row[view.timestamp],)
    created = row[view.created]
    return (row[view.timestamp], created is not None, created or datetime.min)


def point_in_time(spine: list[Row], views: list[tuple[ViewSpec, list[Row]]],
                  spine_timestamp: str = "event_timestamp") -> list[Row]:
    """The spine's rows in order, each with every view's features and `<view>__event_timestamp`."""
    indexed = []
    for view, rows in views:
        by_key: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
        for row in rows:
            key = tuple(row[k] for k in view.keys)
            if None not in key and row[view.timestamp] is not None:
                by_key[key].append(row)
        indexed.append((view, by_key))
    result = []
    for spine_row in spine:
        out = dict(spine_row)
        moment = spine_row[spine_timestamp]
        for view, by_key in indexed:
            key = tuple(spine_row[k] for k in view.keys)
            best: Row | None = None
            if moment is not None and None not in key:
                for row in by_key.get(key, ()):
                    stamp = row[view.timestamp]
                    if stamp > moment or (view.ttl is not None and stamp < moment - view.ttl):
                        continue
                    if best is None or _rank(view, row) > _rank(view, best):
                        best = row
            for feature in view.features:
                out[feature] = None if best is None else best[feature]
            out[f"{view.name}__event_timestamp"] = None if best is None else best[view.timestamp]
        result.append(out)
    return result
