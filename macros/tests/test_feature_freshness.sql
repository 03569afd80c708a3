{#
  Feature contract: the view is fresh. Warns (severity warn by default) when
  the newest row at or before now is older than the view's `freshness` (its
  sync cadence and maximum acceptable lag), or when there is no such row. Rows
  dated later (a trailing window's scheduled drop) are not evidence of
  freshness and are left out. "Now" is var `freshness_as_of`, else var
  `demo_now`, else the current time (see feature_quality_now). Returns one row
  with the newest timestamp, the clock and the allowed lag in seconds.
#}
{% test feature_freshness(model) %}
{{ config(severity='warn') }}
{%- if execute %}
{%- set spec = feature_view_spec(model, 'feature_freshness') %}
{%- set now = feature_quality_now() %}
select newest_row_at, checked_at, {{ spec['freshness_seconds'] }} as freshness_seconds
from (
    select max({{ spec['timestamp'] }}) as newest_row_at, {{ now }} as checked_at
    from {{ model }}
    where {{ spec['timestamp'] }} <= {{ now }}
) as newest
where newest_row_at is null
    or newest_row_at < {{ dbt.dateadd('second', -spec['freshness_seconds'], 'checked_at') }}
{%- else %}
select 1 as newest_row_at where false
{%- endif %}
{% endtest %}
