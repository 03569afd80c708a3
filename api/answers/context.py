"""An entity's features as prompt text, from the template declared with the entity in dbt_project.yml.

A template is parsed once per registry (`feature_store.registry.templates.parse_context_template`, which
the sync already used to refuse a bad one) and rendered per request by joining
parts, so rendering costs no parsing. Values read as a person would write them:
`yes`/`no` for booleans, lists joined with commas, a format spec applied to numbers.

The text says what it does not know and how old it is, in the entity's own wording:
a value that is null, missing or expired reads as `context_unknown` (`unknown`), never
`None`; a stale view's value reads as `context_stale` (`12 (as of 3 h ago)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feature_store.registry.model import Entity, Registry
from feature_store.registry.templates import (
    DEFAULT_STALE,
    DEFAULT_UNKNOWN,
    STALE_FIELDS,
    UNKNOWN_FIELDS,
    TemplatePart,
    parse_context_template,
    parse_wording,
)

EMPTY_LIST = "none"
UNKNOWN_AGE = "unknown"
Wording = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class FeatureState:
    """One feature as the context saw it: its value, its view's status and the row's event timestamp."""

    value: Any
    status: str  # the view's: fresh, stale, expired or missing
    event_timestamp: str | None
    view: str

    @property
    def reason(self) -> str | None:
        """Why the value is unknown (null, expired, missing), or None when it is known."""
        if self.status in ("expired", "missing"):
            return self.status
        return "null" if self.value is None else None

    def as_json(self, age: str | None) -> dict[str, Any]:
        return {"value": self.value, "status": self.status, "event_timestamp": self.event_timestamp,
                "age": age, "view": self.view}


@dataclass(frozen=True)
class ContextTemplate:
    parts: tuple[TemplatePart, ...]
    descriptions: Mapping[str, str]
    stale: Wording
    unknown: Wording
    view_of: tuple[tuple[str, str], ...]  # (feature, its view), every feature of the entity

    @classmethod
    def for_entity(cls, entity: Entity, registry: Registry) -> ContextTemplate:
        """The entity's declared template, else one listing every feature: `User context: a=1, b=x.`"""
        features = [feature for view in registry.views_of(entity.name) for feature in view.features]
        if entity.context_template:
            text = entity.context_template
        else:
            title = entity.name.replace("_", " ").capitalize()
            text = f"{title} context: {', '.join(f'{f.name}={{{f.name}}}' for f in features)}."
        return cls(
            parse_context_template(text),
            {feature.name: feature.description for feature in features},
            parse_wording(entity.context_stale or DEFAULT_STALE, STALE_FIELDS),
            parse_wording(entity.context_unknown or DEFAULT_UNKNOWN, UNKNOWN_FIELDS),
            tuple((feature.name, feature.view) for feature in features),
        )

    def states(self, values: Mapping[str, Any], views: Mapping[str, Mapping[str, Any]]) -> dict[str, FeatureState]:
        """Every feature's state from a read's decoded values and view statuses."""
        return {
            feature: FeatureState(values.get(feature), views[view]["status"], views[view]["event_timestamp"], view)
            for feature, view in self.view_of
        }

    def answer(
        self, values: Mapping[str, Any], views: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """The text, and every value with its status, event timestamp and age (the `values` of the answer)."""
        states = self.states(values, views)
        return self.render(states, now), {name: state.as_json(age_of(state, now)) for name, state in states.items()}

    def render(self, states: Mapping[str, FeatureState], now: datetime) -> str:
        pieces = []
        for literal, name, spec, attribute in self.parts:
            pieces.append(literal)
            if name is None:
                continue
            state = states.get(name)
            if attribute == "description":
                pieces.append(self.descriptions.get(name, ""))
            elif state is None:
                pieces.append(_fill(self.unknown, feature=name, reason="missing"))
            elif attribute == "status":
                pieces.append(state.status)
            elif attribute == "age":
                pieces.append(age_of(state, now) or UNKNOWN_AGE)
            elif state.reason is not None:
                pieces.append(_fill(self.unknown, feature=name, reason=state.reason))
            elif state.status == "stale":
                pieces.append(_fill(self.stale, value=as_text(state.value, spec), age=age_of(state, now) or "?"))
            else:
                pieces.append(as_text(state.value, spec))
        return "".join(pieces)


def age_of(state: FeatureState, now: datetime) -> str | None:
    """How old the value is, as a person says it (`40 min`, `3 h`, `12 d`); None without a timestamp."""
    if state.event_timestamp is None:
        return None
    moment = datetime.fromisoformat(state.event_timestamp.replace("Z", "+00:00"))
    return age_text((now - moment).total_seconds())


def age_text(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _fill(wording: Wording, **fields: str) -> str:
    return "".join(literal + (fields[name] if name is not None else "") for literal, name in wording)


def as_text(value: Any, spec: str = "") -> str:
    """One known value as prompt text; `spec` formats numbers as numbers and anything else as text."""
    if value is None:
        return DEFAULT_UNKNOWN  # inside a list; never through the spec
    if value is True or value is False:
        text = "yes" if value else "no"
    elif isinstance(value, int | float):
        if spec:
            try:
                return format(value, spec)
            except (ValueError, OverflowError):  # a spec that suits the dtype but not this value
                return str(value)
        text = str(value)
    elif isinstance(value, list):
        text = ", ".join(as_text(item) for item in value) or EMPTY_LIST
    else:
        text = str(value)
    if not spec:
        return text
    try:
        return format(text, spec)
    except ValueError:
        return text
