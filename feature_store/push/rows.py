"""Checking pushed rows against the registry, all of them before anything is written.

A batch comes as a list of objects (one per row) or as columns (`{column: [values]}`, Feast's `df`).
Every row must carry the entity's join keys, the view's event timestamp and every feature (null
for a missing value), and nothing else; the view's created timestamp may be left out, and is then
the time of ingestion. One bad row refuses the whole batch, with each bad row's index and reason.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feature_store.clock import parse_timestamp
from feature_store.errors import FeatureStoreError
from feature_store.online.keys import entity_key, timestamp_field
from feature_store.online.text import encode
from feature_store.registry.dtypes import list_element
from feature_store.registry.model import Entity, FeatureView, Registry

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_REPORTED_PROBLEMS = 100


class NotPushFed(FeatureStoreError):
    """A push to a view that does not take pushes, or to no view at all."""

    def __init__(self, name: str, registry: Registry) -> None:
        pushable = sorted(view.name for view in registry.views if view.takes_pushes)
        if registry.has_view(name):
            problem = f"feature view {name!r} does not take pushes"
            fix = f"add `push: true` to its config.meta and read its log with push_log('{name}') in its model"
        else:
            problem = f"no feature view named {name!r}"
            fix = "push to one of the views that take pushes"
        super().__init__(f"{problem}: {fix}; views that take pushes: {', '.join(pushable) or 'none'}")
        self.view = name
        self.pushable = pushable


@dataclass(frozen=True)
class RowProblem:
    index: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


class PushRefused(FeatureStoreError):
    """A batch with at least one bad row (or a malformed shape): nothing of it was written."""

    def __init__(self, view: str, problems: list[RowProblem], rows: int) -> None:
        self.view = view
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        self.count = len(problems)
        first = "; ".join(f"row {p.index}: {p.reason}" for p in problems[:3])
        super().__init__(f"{len(problems)} of {rows} rows pushed to {view!r} are invalid, so none was written "
                         f"({first}{'; ...' if len(problems) > 3 else ''})")


class IngestClock:
    """The time of ingestion, strictly increasing within the process (a microsecond apart at least), so
    two pushes of one entity at one event time are ordered offline (by created timestamp) as they were
    applied online (the later one wins)."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            moment = max(self._now(), self._last + timedelta(microseconds=1))
            self._last = moment
            return moment


@dataclass(frozen=True)
class PushBatch:
    """Checked rows of one view: Python values by column (timestamps aware UTC), key columns first."""

    view: FeatureView
    entity: Entity
    rows: list[dict[str, Any]]

    def log_lines(self) -> bytes:
        """The rows as newline-delimited JSON, the push log's landing form (timestamps naive UTC text,
        which DuckDB reads as TIMESTAMP)."""
        return b"".join((json.dumps({name: _log_value(value) for name, value in row.items()},
                                    separators=(",", ":"), allow_nan=False) + "\n").encode() for row in self.rows)

    def online_commands(self, prefix: str, script_sha: str) -> list[list[str]]:
        """One guarded write per row (see `feature_store.push.script`): `EVALSHA sha 1 key n [null field]...
        _ts:view ts [feature value]...`, in the batch's order."""
        ts_field = timestamp_field(self.view.name)
        commands = []
        for row in self.rows:
            ids = tuple(str(row[key]) for key in self.entity.join_keys)
            key = entity_key(prefix, self.entity.name, ids if len(ids) > 1 else ids[0])
            nulls = [f.name for f in self.view.features if row[f.name] is None]
            pairs = [item for f in self.view.features if row[f.name] is not None
                     for item in (f.name, encode(row[f.name], f.dtype))]
            ts = encode(row[self.view.timestamp], "timestamp")
            commands.append(["EVALSHA", script_sha, "1", key, str(len(nulls)), *nulls, ts_field, ts, *pairs])
        return commands


def check_rows(
    registry: Registry,
    view_name: str,
    body: Any,
    now: datetime,
    ingested_at: Callable[[], datetime],
) -> PushBatch:
    """The batch checked and typed, or PushRefused naming every bad row; NotPushFed for a view that
    takes no pushes. `now`: rows dated after it are refused (online would serve them before their time)."""
    if not registry.has_view(view_name) or not registry.view(view_name).takes_pushes:
        raise NotPushFed(view_name, registry)
    view = registry.view(view_name)
    entity = registry.entity(view.entity)
    rows = _as_rows(view, body)
    checker = _RowChecker(view, entity, now, ingested_at)
    checked: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    for index, row in enumerate(rows):
        reasons, values = checker.check(row)
        if reasons:
            problems.append(RowProblem(index, "; ".join(reasons)))
        else:
            checked.append(values)
    if problems:
        raise PushRefused(view.name, problems, len(rows))
    if not checked:
        raise PushRefused(view.name, [RowProblem(0, "the batch holds no rows: send at least one")], 0)
    return PushBatch(view, entity, checked)


def _as_rows(view: FeatureView, body: Any) -> list[Any]:
    """Rows from a list of objects, or from columns (`{column: [values]}`) of equal lengths."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        columns = dict(body)
        bad = sorted(name for name, values in columns.items() if not isinstance(values, list))
        if bad:
            raise PushRefused(view.name, [RowProblem(0, f"column(s) {', '.join(map(repr, bad))} are not lists: "
                                          "send columns as {column: [values]} or rows as [{column: value}]")], 0)
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name}={length}" for name, length in sorted(lengths.items()))
            raise PushRefused(view.name, [RowProblem(0, f"columns have different lengths ({listed}): "
                                          "every column needs one value per row")], max(lengths.values()))
        count = next(iter(lengths.values()), 0)
        return [{name: values[i] for name, values in columns.items()} for i in range(count)]
    raise PushRefused(view.name, [RowProblem(0, "rows must be a list of objects, or an object of columns "
                                             f"(got {type(body).__name__})")], 0)


class _RowChecker:
    def __init__(self, view: FeatureView, entity: Entity, now: datetime, ingested_at: Callable[[], datetime]):
        self.view = view
        self.entity = entity
        self.now = now
        self.ingested_at = ingested_at
        self.key_dtype = "int64" if entity.dtype == "int64" else "string"
        self.expected = [*entity.join_keys, view.timestamp, *([view.created_timestamp] if view.created_timestamp
                                                              else []), *view.feature_names]

    def check(self, row: Any) -> tuple[list[str], dict[str, Any]]:
        if not isinstance(row, Mapping):
            return [f"a row must be an object of columns, not {type(row).__name__}"], {}
        reasons: list[str] = []
        unknown = [name for name in row if name not in self.expected]
        if unknown:
            reasons.append(f"unknown column(s) {', '.join(map(repr, unknown))}; the view's columns are "
                           f"{', '.join(self.expected)}")
        values: dict[str, Any] = {}
        for key in self.entity.join_keys:
            values[key] = self._required(row, key, self.key_dtype, "join key", reasons)
        values[self.view.timestamp] = stamp = self._required(row, self.view.timestamp, "timestamp",
                                                             "event timestamp", reasons)
        if isinstance(stamp, datetime) and stamp > self.now:
            reasons.append(f"{self.view.timestamp} {stamp.isoformat()} is after the time of the push "
                           f"({self.now.isoformat()}): push a row once it holds")
        if self.view.created_timestamp:
            name = self.view.created_timestamp
            raw = row.get(name)
            values[name] = self.ingested_at() if raw is None else self._value(name, raw, "timestamp", reasons)
        for feature in self.view.features:
            if feature.name not in row:
                reasons.append(f"missing feature {feature.name!r} (send null for a missing value)")
                continue
            raw = row[feature.name]
            values[feature.name] = None if raw is None else self._value(feature.name, raw, feature.dtype, reasons)
        return reasons, values

    def _required(self, row: Mapping[str, Any], name: str, dtype: str, what: str, reasons: list[str]) -> Any:
        if row.get(name) is None:
            reasons.append(f"missing {what} {name!r}")
            return None
        return self._value(name, row[name], dtype, reasons)

    def _value(self, name: str, raw: Any, dtype: str, reasons: list[str]) -> Any:
        try:
            return coerce(raw, dtype)
        except ValueError as error:
            reasons.append(f"{name!r}: {error}")
            return None


def coerce(raw: Any, dtype: str) -> Any:
    """A JSON value as the Python value of `dtype`, or ValueError saying what was wrong."""
    element = list_element(dtype)
    if element is not None:
        if not isinstance(raw, list):
            raise ValueError(f"{_shown(raw)} is not a list ({dtype})")
        return [None if item is None else coerce(item, element) for item in raw]
    if dtype == "int64":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"{_shown(raw)} is not an int64")
        if not INT64_MIN <= raw <= INT64_MAX:
            raise ValueError(f"{raw} is outside the int64 range")
        return raw
    if dtype == "float64":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"{_shown(raw)} is not a float64")
        if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
            raise ValueError("nan and inf are not pushed values")
        return float(raw)
    if dtype == "bool":
        if not isinstance(raw, bool):
            raise ValueError(f"{_shown(raw)} is not a bool (true or false)")
        return raw
    if dtype == "timestamp":
        if not isinstance(raw, str):
            raise ValueError(f"{_shown(raw)} is not a timestamp: send ISO 8601 text, e.g. 2026-11-27T12:00:00Z")
        return parse_timestamp(raw)
    if not isinstance(raw, str):
        raise ValueError(f"{_shown(raw)} is not a string")
    return raw


def _shown(raw: Any) -> str:
    text = json.dumps(raw) if isinstance(raw, str | int | float | bool | type(None) | list | dict) else repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _log_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value
