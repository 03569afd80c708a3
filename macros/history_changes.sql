{#
  The rows of a full history where a value changes: each entity's first row,
  then each row where one of `columns` differs from that entity's previous row
  (NULL counts as a value, so a change to or from NULL is kept too).

    {{ history_changes('running', keys=['user_id'], timestamp='event_timestamp',
                       columns=['watch_count_30d', 'watch_minutes_30d']) }}

  A feature view needs no more: the point-in-time join and the sync read the
  latest row at or before a moment, so a row repeating its predecessor's values
  would only add rows. `relation` (a CTE's name or a relation) holds one row
  per key and timestamp; the result has the keys, the timestamp and the columns,
  in that order. Plain SQL (window functions, IS DISTINCT FROM) that DuckDB and
  Spark both run.
#}
{% macro history_changes(relation, keys, timestamp, columns) -%}
  {%- set keys = [keys] if keys is string else keys | list -%}
  {%- set window = 'partition by ' ~ keys | join(', ') ~ ' order by ' ~ timestamp -%}
    select {{ (keys + [timestamp] + columns) | join(', ') }}
    from (
        select
            *,
            row_number() over ({{ window }}) as history_row_number
            {%- for column in columns %},
            lag({{ column }}) over ({{ window }}) as previous__{{ column }}
            {%- endfor %}
        from {{ relation }}
    ) as with_previous
    where history_row_number = 1
        {%- for column in columns %}
        or {{ column }} is distinct from previous__{{ column }}
        {%- endfor %}
{%- endmacro %}
