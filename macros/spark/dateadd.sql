{#
  dbt.dateadd on Spark. dbt-spark's own version raises on a NULL timestamp (its
  assert_not_null), which the point-in-time join and the leakage test meet at
  every spine row without a feature row, and drops sub-second precision (it
  goes through unix seconds). timestampadd keeps microseconds and gives NULL
  for NULL, as every other adapter's dateadd does. It takes effect through the
  dispatch order in dbt_project.yml.
#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
  {%- set units = {'microsecond': 'MICROSECOND', 'millisecond': 'MILLISECOND', 'second': 'SECOND',
                   'minute': 'MINUTE', 'hour': 'HOUR', 'day': 'DAY', 'week': 'WEEK', 'month': 'MONTH',
                   'quarter': 'QUARTER', 'year': 'YEAR'} -%}
  {%- set unit = units.get(datepart | lower) -%}
  {%- if unit is none -%}
    {{- exceptions.raise_compiler_error("dateadd: unknown datepart '" ~ datepart ~ "' on Spark") -}}
  {%- endif -%}
  timestampadd({{ unit }}, cast({{ interval }} as bigint), {{ from_date_or_timestamp }})
{%- endmacro %}
