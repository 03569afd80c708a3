"""An entity's features as prompt text, from the template declared with the entity in dbt_project.yml.

A template is parsed once per registry (`feature_store.registry.templates.parse_context_template`, which
the sync already used to refuse a bad one) and rendered per request by joining
parts, so rendering costs no parsing. Values read as a person would write them:
`yes`/`no` for booleans, lists joined with commas, a format spec applied to numbers;
a value that is null, missing or expired reads `unknown`, never `None`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from feature_store.registry.model import Entity
from feature_store.registry.templates import TemplatePart, parse_context_template

UNKNOWN = "unknown"
EMPTY_LIST = "none"


@dataclass(frozen=True)
class ContextTemplate:
    parts: tuple[TemplatePart, ...]

    @classmethod
    def for_entity(cls, entity: Entity, feature_names: Iterable[str]) -> ContextTemplate:
        """The entity's declared template, else one listing every feature: `User context: a=1, b=x.`"""
        if entity.context_template:
            return cls(parse_context_template(entity.context_template))
        title = entity.name.replace("_", " ").capitalize()
        listed = ", ".join(f"{name}={{{name}}}" for name in feature_names)
        return cls(parse_context_template(f"{title} context: {listed}."))

    def render(self, values: Mapping[str, Any]) -> str:
        pieces = []
        for literal, name, spec in self.parts:
            pieces.append(literal)
            if name is not None:
                pieces.append(as_text(values.get(name), spec))
        return "".join(pieces)


def as_text(value: Any, spec: str = "") -> str:
    """One value as prompt text; `spec` formats numbers as numbers and anything else as text."""
    if value is None:
        return UNKNOWN  # never through the spec: `.1f` cannot format a placeholder
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
