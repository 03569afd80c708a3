{#
  The demo's seeds cover a fixed period in 2026. So that freshness and ttl give
  fresh values on whatever day the project is built, staging shifts every seed
  timestamp by a whole number of hours: the newest watch event lands less than
  an hour before the build (or before var('demo_now') when it is set), so the
  per-event view is fresh at any minute of the hour.
  Whole hours keep the daily and hourly boundaries of the history aligned.
#}
{% macro demo_now() -%}
  {%- if var('demo_now', none) -%}
    cast('{{ var("demo_now") }}' as timestamp)
  {%- else -%}
    cast({{ dbt.current_timestamp() }} as timestamp)
  {%- endif -%}
{%- endmacro %}

{# The shift in hours, an integer: add it with dbt.dateadd('hour', ...). #}
{% macro demo_time_shift() -%}
  (
    select {{ demo_hours_between('max(watched_at)', demo_now()) }}
    from {{ ref('watch_events') }}
  )
{%- endmacro %}

{#
  Whole hours elapsed from `start` to `end` (rounded down): 10:59 to 11:01 is
  none, 10:59 to 11:59 is one. Every adapter must count alike, or the demo's
  history lands on other hours.
#}
{% macro demo_hours_between(start, end) -%}
  {{- return(adapter.dispatch('demo_hours_between')(start, end)) -}}
{%- endmacro %}

{% macro default__demo_hours_between(start, end) -%}
  ({{ dbt.datediff(start, end, 'second') }} // 3600)
{%- endmacro %}

{% macro spark__demo_hours_between(start, end) -%}
  ((unix_seconds({{ end }}) - unix_seconds({{ start }})) div 3600)
{%- endmacro %}
