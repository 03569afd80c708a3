"""Checking pushed rows against the registry, all of them before anything is written.

A batch comes as a list of objects (one per row) or as columns (`{column: [values]}`, Feast's `df`).
Every row must carry the entity's join keys, the view's event timestamp and every feature (null
for a missing value), and nothing else; the view's created timestamp may be left out, and is then
the time of ingestion. One bad row refuses the whole batch, with each bad row's index and reason.

Checks run column by column (a batch of many thousand rows is checked in milliseconds); a column
that fails is checked again value by value, for the reasons.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from feature_store.errors import FeatureStoreError
from feature_store.online.keys import timestamp_field
from feature_store.registry.dtypes import list_element
from feature_store.registry.model import Entity, FeatureView, Registry

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_REPORTED_PROBLEMS = 100
MISSING: Any = object()  # a column a row left out (unlike null, sent)


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

    def __call__(self, count: int) -> list[datetime]:
        """`count` times of ingestion, a microsecond apart, all after any this clock gave before."""
        with self._lock:
            first = max(self._now(), self._last + timedelta(microseconds=1))
            self._last = first + timedelta(microseconds=count - 1)
        return [first + timedelta(microseconds=i) for i in range(count)]


@dataclass(frozen=True)
class PushBatch:
    """Checked rows of one view, by column: Python values (timestamps aware UTC, None for null)."""

    view: FeatureView
    entity: Entity
    columns: dict[str, list[Any]]  # the join keys, the timestamps, the features
    count: int

    @classmethod
    def concat(cls, batches: list[PushBatch]) -> PushBatch:
        first = batches[0]
        return cls(first.view, first.entity,
                   {name: [v for b in batches for v in b.columns[name]] for name in first.columns},
                   sum(b.count for b in batches))

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]

    def log_document(self) -> bytes:
        """The rows as one JSON array of objects, the push log's landing form (timestamps in ISO 8601 with
        their UTC offset, which DuckDB reads as TIMESTAMP)."""
        return orjson.dumps(self.rows())

    def online_commands(self, prefix: str, script_sha: str) -> list[bytes]:
        """One guarded write per row (see `feature_store.push.script`), in RESP, in the batch's order:
        `EVALSHA sha 1 key n [null field]... _ts:view ts [feature value]...`. Built column by column."""
        keys = self.entity.join_keys
        key_prefix = f"{prefix}{self.entity.name}:"
        if len(keys) > 1:
            ids = [":".join(map(str, parts)) for parts in zip(*(self.columns[k] for k in keys), strict=True)]
        else:
            ids = [str(v) for v in self.columns[keys[0]]]
        key_parts = [_bulk(key_prefix + entity_id) for entity_id in ids]
        ts_field = _bulk(timestamp_field(self.view.name))
        ts_parts = [ts_field + _bulk(redis_timestamp(moment)) for moment in self.columns[self.view.timestamp]]
        pairs = [""] * self.count
        nulls = [""] * self.count
        null_counts = [0] * self.count
        for feature in self.view.features:
            name = _bulk(feature.name)
            text = _TEXT.get(feature.dtype) or functools.partial(_list_text, dtype=feature.dtype)
            for index, value in enumerate(self.columns[feature.name]):
                if value is None:
                    nulls[index] += name
                    null_counts[index] += 1
                else:
                    pairs[index] += name + _bulk(text(value))
        head = f"$7\r\nEVALSHA\r\n${len(script_sha)}\r\n{script_sha}\r\n$1\r\n1\r\n"
        size = 7 + 2 * len(self.view.features)  # arguments with every feature present; a null takes one, not two
        return [f"*{size - missing}\r\n{head}{key}${len(str(missing))}\r\n{missing}\r\n{gone}{ts}{pair}".encode()
                for key, missing, gone, ts, pair in zip(key_parts, null_counts, nulls, ts_parts, pairs, strict=True)]


def _bulk(text: str) -> str:
    size = len(text) if text.isascii() else len(text.encode())
    return f"${size}\r\n{text}\r\n"


def redis_timestamp(moment: datetime) -> str:
    """The Redis text of an aware UTC datetime (as `feature_store.online.text.format_timestamp`)."""
    return moment.isoformat()[:-6] + "Z"  # "...+00:00" -> "...Z"


def _list_text(value: Any, dtype: str) -> str:
    return redis_text(value, dtype)


def redis_text(value: Any, dtype: str) -> str:
    if dtype == "string":
        return value
    if dtype == "int64":
        return str(value)
    if dtype == "float64":
        return repr(value)
    if dtype == "bool":
        return "true" if value else "false"
    if dtype == "timestamp":
        return redis_timestamp(value)
    return json.dumps(value, separators=(",", ":"))


_TEXT: dict[str, Callable[[Any], str]] = {
    "string": lambda value: value, "int64": str, "float64": repr, "timestamp": redis_timestamp,
    "bool": lambda value: "true" if value else "false",
}


def check_rows(
    registry: Registry,
    view_name: str,
    body: Any,
    now: datetime,
    ingested_at: Callable[[int], list[datetime]],
) -> PushBatch:
    """The batch checked and typed, or PushRefused naming every bad row; NotPushFed for a view that
    takes no pushes. `now`: rows dated after it are refused (online would serve them before their time)."""
    if not registry.has_view(view_name) or not registry.view(view_name).takes_pushes:
        raise NotPushFed(view_name, registry)
    view = registry.view(view_name)
    entity = registry.entity(view.entity)
    problems: dict[int, list[str]] = {}
    raw, count = _as_columns(view, entity, body, problems)
    if count == 0 and not problems:
        raise PushRefused(view.name, [RowProblem(0, "the batch holds no rows: send at least one")], 0)
    key_dtype = "int64" if entity.dtype == "int64" else "string"
    columns: dict[str, list[Any]] = {}
    for key in entity.join_keys:
        columns[key] = _column(raw[key], key_dtype, key, problems, required=f"missing join key {key!r}")
    stamps = _column(raw[view.timestamp], "timestamp", view.timestamp, problems,
                     required=f"missing event timestamp {view.timestamp!r}")
    columns[view.timestamp] = stamps
    late = [i for i, moment in enumerate(stamps) if moment is not None and moment > now]
    for index in late:
        problems.setdefault(index, []).append(f"{view.timestamp} {stamps[index].isoformat()} is after the time "
                                              f"of the push ({now.isoformat()}): push a row once it holds")
    if view.created_timestamp:
        name = view.created_timestamp
        created = _column([None if v is MISSING else v for v in raw[name]], "timestamp", name, problems)
        filled = iter(ingested_at(sum(1 for v in created if v is None)))
        columns[name] = [next(filled) if v is None else v for v in created]
    for feature in view.features:
        values = raw[feature.name]
        for index in (i for i, v in enumerate(values) if v is MISSING):
            problems.setdefault(index, []).append(f"missing feature {feature.name!r} (send null for a missing value)")
        columns[feature.name] = _column(values, feature.dtype, feature.name, problems, nullable=True)
    if problems:
        found = [RowProblem(index, "; ".join(reasons)) for index, reasons in sorted(problems.items())]
        raise PushRefused(view.name, found, count)
    return PushBatch(view, entity, columns, count)


def _expected(view: FeatureView, entity: Entity) -> list[str]:
    return [*entity.join_keys, view.timestamp, *([view.created_timestamp] if view.created_timestamp else []),
            *view.feature_names]


def _as_columns(view: FeatureView, entity: Entity, body: Any,
                problems: dict[int, list[str]]) -> tuple[dict[str, list[Any]], int]:
    """Every expected column's values (MISSING where a row left it out), from rows or columns."""
    expected = _expected(view, entity)
    known = set(expected)
    listed = ", ".join(expected)
    if isinstance(body, list):
        for index, row in enumerate(body):
            if not isinstance(row, Mapping):
                problems.setdefault(index, []).append(f"a row must be an object of columns, not {type(row).__name__}")
            elif not known.issuperset(row):
                unknown = ", ".join(repr(name) for name in row if name not in known)
                problems.setdefault(index, []).append(f"unknown column(s) {unknown}; the view's columns are {listed}")
        rows = [row if isinstance(row, Mapping) else {} for row in body]
        return {name: [row.get(name, MISSING) for row in rows] for name in expected}, len(rows)
    if isinstance(body, Mapping):
        bad = sorted(name for name, values in body.items() if not isinstance(values, list))
        if bad:
            raise PushRefused(view.name, [RowProblem(0, f"column(s) {', '.join(map(repr, bad))} are not lists: "
                                          "send columns as {column: [values]} or rows as [{column: value}]")], 0)
        lengths = {name: len(values) for name, values in body.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name}={length}" for name, length in sorted(lengths.items()))
            raise PushRefused(view.name, [RowProblem(0, f"columns have different lengths ({shown}): "
                                          "every column needs one value per row")], max(lengths.values()))
        count = next(iter(lengths.values()), 0)
        extra = [name for name in body if name not in known]
        if extra:
            reason = f"unknown column(s) {', '.join(map(repr, extra))}; the view's columns are {listed}"
            for index in range(count):
                problems.setdefault(index, []).append(reason)
        return {name: list(body[name]) if name in body else [MISSING] * count for name in expected}, count
    raise PushRefused(view.name, [RowProblem(0, "rows must be a list of objects, or an object of columns "
                                             f"(got {type(body).__name__})")], 0)


def _column(values: list[Any], dtype: str, name: str, problems: dict[int, list[str]],
            required: str | None = None, nullable: bool = False) -> list[Any]:
    """The column's values as `dtype` (None where null or bad); reasons added to `problems` by row."""
    fast = _FAST.get(dtype)
    if fast is not None and fast(values, nullable):
        return values if dtype != "float64" else [None if v is None else float(v) for v in values]
    if dtype == "timestamp":
        try:
            return [None if v is None and nullable else _utc(datetime.fromisoformat(v)) for v in values]
        except (TypeError, ValueError):
            pass  # value by value below, for the reasons
    result: list[Any] = []
    for index, raw in enumerate(values):
        if raw is None or raw is MISSING:
            if required:
                problems.setdefault(index, []).append(required)
            result.append(None)
            continue
        try:
            result.append(coerce(raw, dtype))
        except ValueError as error:
            problems.setdefault(index, []).append(f"{name!r}: {error}")
            result.append(None)
    return result


def _all_ints(values: list[Any], nullable: bool) -> bool:
    present = [v for v in values if v is not None] if nullable else values
    return all(type(v) is int for v in present) and (not present or (
        min(present) >= INT64_MIN and max(present) <= INT64_MAX))


def _all_of(kind: type) -> Callable[[list[Any], bool], bool]:
    def check(values: list[Any], nullable: bool) -> bool:
        return all(type(v) is kind or (nullable and v is None) for v in values)
    return check


def _all_floats(values: list[Any], nullable: bool) -> bool:
    return all((type(v) is float and math.isfinite(v)) or type(v) is int or (nullable and v is None)
               for v in values)


_FAST: dict[str, Callable[[list[Any], bool], bool]] = {
    "int64": _all_ints, "string": _all_of(str), "bool": _all_of(bool), "float64": _all_floats,
}


def coerce(raw: Any, dtype: str) -> Any:
    """A JSON value as the Python value of `dtype`, or ValueError saying what was wrong."""
    element = list_element(dtype)
    if element is not None:
        if not isinstance(raw, list):
            raise ValueError(f"{_shown(raw)} is not a list ({dtype})")
        return [None if item is None else coerce(item, element) for item in raw]
    if dtype == "int64":
        if type(raw) is not int:
            raise ValueError(f"{_shown(raw)} is not an int64")
        if not INT64_MIN <= raw <= INT64_MAX:
            raise ValueError(f"{raw} is outside the int64 range")
        return raw
    if dtype == "float64":
        if type(raw) not in (int, float):
            raise ValueError(f"{_shown(raw)} is not a float64")
        if not math.isfinite(raw):
            raise ValueError("nan and inf are not pushed values")
        return float(raw)
    if dtype == "bool":
        if type(raw) is not bool:
            raise ValueError(f"{_shown(raw)} is not a bool (true or false)")
        return raw
    if dtype == "timestamp":
        return _timestamp(raw)
    if type(raw) is not str:
        raise ValueError(f"{_shown(raw)} is not a string")
    return raw


def _timestamp(raw: Any) -> datetime:
    if type(raw) is not str:
        raise ValueError(f"{_shown(raw)} is not a timestamp: send ISO 8601 text, e.g. 2026-11-27T12:00:00Z")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise ValueError(f"invalid timestamp {_shown(raw)}: use ISO 8601, e.g. 2026-11-27T12:00:00Z") from error
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(raw: Any) -> str:
    text = json.dumps(raw) if isinstance(raw, str | int | float | bool | type(None) | list | dict) else repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."
