"""Context templates: how an entity's features read as prompt text for an LLM."""

from __future__ import annotations

import string
from typing import Any

from feature_store.registry.model import NAME_PATTERN

# (literal text, feature name or None, format spec, attribute: "" for the value, else one of ATTRIBUTES)
TemplatePart = tuple[str, str | None, str, str]

# What a placeholder may read besides the value: `{feature.description}` is the feature's dbt description,
# `{feature.age}` how old its value is (`3 h`), `{feature.status}` its view's status (fresh, stale, ...).
ATTRIBUTES = ("description", "age", "status")

# How a stale view's value and an unknown value read, unless the entity declares its own wording
# (`context_stale:` / `context_unknown:` beside `context_template:`).
DEFAULT_STALE = "{value} (as of {age} ago)"
DEFAULT_UNKNOWN = "unknown"
STALE_FIELDS = ("value", "age")
UNKNOWN_FIELDS = ("feature", "reason")  # reason: null, expired or missing


def parse_context_template(template: str) -> tuple[TemplatePart, ...]:
    """A context template as parts; ValueError naming the problem when it is malformed.

    Placeholders are `{feature}` or `{feature:spec}` (a Python format spec, e.g. `{avg:.1f}`), or
    `{feature.attribute}` with one of ATTRIBUTES; `{{` and `}}` are literal braces. Other attributes,
    indexing and conversions are refused, so a template can only ever name what is known of a feature.
    """
    parts: list[TemplatePart] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"{error} (write a literal brace as {{{{ or }}}})") from error
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, "", ""))
            continue
        feature, _, attribute = name.partition(".")
        if (not NAME_PATTERN.match(feature) or conversion is not None or "{" in (spec or "")
                or (attribute and (attribute not in ATTRIBUTES or spec))):
            raise ValueError(
                f"placeholder {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not "
                f"a feature name (with an optional format spec) nor `feature.{{{'|'.join(ATTRIBUTES)}}}`"
            )
        parts.append((literal, feature, spec or "", attribute))
    return tuple(parts)


def parse_wording(text: str, fields: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """`context_stale` / `context_unknown` as (literal, field) parts; ValueError naming a field not in `fields`."""
    parts: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ValueError(f"{error} (write a literal brace as {{{{ or }}}})") from error
    for literal, name, spec, conversion in parsed:
        if name is not None and (name not in fields or spec or conversion):
            raise ValueError(f"placeholder {{{name}}} is not one of {', '.join('{' + f + '}' for f in fields)}")
        parts.append((literal, name))
    return tuple(parts)


# A value of each dtype a format spec must accept; anything else is formatted as text.
_SPEC_SAMPLES: dict[str, Any] = {"int64": 1, "float64": 0.5}


def check_format_spec(dtype: str, spec: str) -> None:
    """ValueError when `spec` cannot format a value of `dtype` (numbers as numbers, the rest as text)."""
    if spec:
        format(_SPEC_SAMPLES.get(dtype, "text"), spec)


