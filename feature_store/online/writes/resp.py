"""Redis commands rendered as RESP by DuckDB, so writing a row costs Python nothing.

Each changed row becomes one complete command in the wire protocol, built in
SQL (vectorised, multi-threaded) from the row's Redis text:

- `s`: `HSET key _ts:{view} ts [feature value]...` (null features left out);
- `r`: `EVALSHA <replace script> 1 key n [null feature]... _ts:{view} ts [feature value]...`,
  deleting the features that became null and setting the rest atomically;
- `d`: `HDEL key _ts:{view} feature...`.

A push-fed view's `s` and `r` rows are always the EVALSHA form, of the guarded script
(`feature_store.push.script`): the row lands only when it is at least as new as the stored one,
so a sync never regresses a value pushed after the build it reads.

Lengths are byte lengths (`strlen`), so any UTF-8 text is framed correctly.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.online.keys import timestamp_field
from feature_store.push.script import GUARDED_ROW_SHA
from feature_store.registry.model import FeatureView
from feature_store.sql import literal as sql_literal

CRLF = "\r\n"
# The columns of a batch of rendered commands: the operation (s, r or d) and the command in RESP.
OP_COLUMN = "__op"
RESP_COLUMN = "__resp"


def bulk(text: str) -> str:
    """A constant as a RESP bulk string."""
    return f"${len(text.encode())}{CRLF}{text}{CRLF}"


def bulk_sql(expression: str, constant_prefix: str = "") -> str:
    """SQL for `constant_prefix || expression` as a RESP bulk string."""
    size = len(constant_prefix.encode())
    length = f"strlen({expression})" + (f" + {size}" if size else "")
    return f"'$' || ({length}) || {sql_literal(CRLF + constant_prefix)} || {expression} || {sql_literal(CRLF)}"


@dataclass(frozen=True)
class CommandSql:
    """Builds the `__resp` column for one view's changes."""

    view: FeatureView
    key_prefix: str  # `{prefix}{entity}:`
    replace_sha: str
    delete_fields: tuple[str, ...] = ()
    guarded_sha: str = GUARDED_ROW_SHA

    def expression(self, id_column: str, op_column: str, ts_column: str, qualifier: str = "") -> str:
        def col(name: str) -> str:
            return f'{qualifier}"{name}"'

        names = self.view.feature_names
        key = bulk_sql(col(id_column), self.key_prefix)
        ts_pair = f"{sql_literal(bulk(timestamp_field(self.view.name)))} || {bulk_sql(col(ts_column))}"
        pairs = " || ".join(
            f"case when {col(n)} is null then '' else {sql_literal(bulk(n))} || {bulk_sql(col(n))} end"
            for n in names
        )
        present = " + ".join(f"({col(n)} is not null)::int" for n in names)
        nulls = " || ".join(f"case when {col(n)} is null then {sql_literal(bulk(n))} else '' end" for n in names)
        missing = " + ".join(f"({col(n)} is null)::int" for n in names)
        hset = (
            f"'*' || (4 + 2 * ({present})) || {sql_literal(CRLF + bulk('HSET'))} || {key} || {ts_pair} || {pairs}"
        )
        script_sha = self.guarded_sha if self.view.takes_pushes else self.replace_sha
        evalsha = (
            f"'*' || (7 + ({missing}) + 2 * ({present})) || "
            f"{sql_literal(CRLF + bulk('EVALSHA') + bulk(script_sha) + bulk('1'))} || {key} || "
            f"'$' || strlen(({missing})::varchar) || {sql_literal(CRLF)} || ({missing}) || {sql_literal(CRLF)} || "
            f"{nulls} || {ts_pair} || {pairs}"
        )
        fields = list(dict.fromkeys([timestamp_field(self.view.name), *names, *self.delete_fields]))
        hdel = (
            f"{sql_literal(f'*{2 + len(fields)}{CRLF}' + bulk('HDEL'))} || {key} || "
            f"{sql_literal(''.join(bulk(f) for f in fields))}"
        )
        if self.view.takes_pushes:
            return f"case {col(op_column)} when 'd' then {hdel} else {evalsha} end"
        return (
            f"case {col(op_column)} when 'd' then {hdel} "
            f"when 'r' then (case when ({missing}) > 0 then {evalsha} else {hset} end) "
            f"else {hset} end"
        )
