{#
  The demo's seeds cover a fixed period in 2026. So that freshness and ttl give
  fresh values on whatever day the project is built, staging shifts every seed
  timestamp by a whole number of hours: the newest watch event lands less than
  two hours before the build (or before var('demo_now') when it is set).
  Whole hours keep the daily and hourly boundaries of the history aligned.
#}
{% macro demo_now() -%}
  {%- if var('demo_now', none) -%}
    cast('{{ var("demo_now") }}' as timestamp)
  {%- else -%}
    cast(current_timestamp as timestamp)
  {%- endif -%}
{%- endmacro %}

{% macro demo_time_shift() -%}
  (
    select to_hours(date_diff('hour', max(watched_at), {{ demo_now() }}) - 1)
    from {{ ref('watch_events') }}
  )
{%- endmacro %}
