"""Context templates: how an entity's features read as prompt text for an LLM."""

from __future__ import annotations

import string
from typing import Any

from feature_store.registry.model import NAME_PATTERN

TemplatePart = tuple[str, str | None, str]  # (literal text, feature name or None, format spec)


def parse_context_template(template: str) -> tuple[TemplatePart, ...]:
    """A context template as parts; ValueError naming the problem when it is malformed.

    Placeholders are `{feature}` or `{feature:spec}` (a Python format spec, e.g. `{avg:.1f}`);
    `{{` and `}}` are literal braces. Attribute access, indexing and conversions are refused,
    so a template can only ever name a feature's value.
    """
    parts: list[TemplatePart] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"{error} (write a literal brace as {{{{ or }}}})") from error
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if not NAME_PATTERN.match(name) or conversion is not None or "{" in (spec or ""):
            raise ValueError(f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}} is not a feature name (with an optional format spec)")
        parts.append((literal, name, spec or ""))
    return tuple(parts)


# A value of each dtype a format spec must accept; anything else is formatted as text.
_SPEC_SAMPLES: dict[str, Any] = {"int64": 1, "float64": 0.5}


def check_format_spec(dtype: str, spec: str) -> None:
    """ValueError when `spec` cannot format a value of `dtype` (numbers as numbers, the rest as text)."""
    if spec:
        format(_SPEC_SAMPLES.get(dtype, "text"), spec)


