"""Durations as written in feature YAML: `30s`, `5m`, `1h`, `1d`, `7d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """Parse `<integer><unit>`; raise ValueError naming the accepted forms."""
    match = _PATTERN.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"invalid duration {text!r}: write a positive whole number and a unit, "
            "s, m, h, d or w (for example 30s, 5m, 1h, 1d, 7d)"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(duration: timedelta) -> str:
    """The shortest exact `<integer><unit>` form of a duration."""
    seconds = int(duration.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
