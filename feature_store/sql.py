"""SQL text for DuckDB: quoted identifiers and string literals, written one way everywhere, and the
column names that the offline store's latest rows and the online store's writers share."""

from __future__ import annotations

ID_COLUMN = "__id"  # the entity's id as text: the tail of its Redis key
TS_COLUMN = "__ts"  # the row's event timestamp in its Redis text form


def quote(identifier: str) -> str:
    """`identifier` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
