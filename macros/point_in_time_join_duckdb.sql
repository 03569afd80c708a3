{#
  DuckDB: one ASOF LEFT JOIN per view. ASOF takes, per spine row, the feature
  row with the greatest timestamp <= the spine's; it allows one inequality only,
  so the ttl is applied to that row afterwards (an expired latest row means every
  earlier row is expired too). Where a view has a created timestamp, the
  inequality is on one HUGEINT that orders rows by (event timestamp, created
  timestamp), so the latest load wins a tie without a pass over the view to
  remove duplicates (a NULL created timestamp sorts first and loses).
#}
{% macro duckdb__point_in_time_join(spine, features, spine_timestamp='event_timestamp') -%}
  {%- set plan = point_in_time_plan(spine, features, spine_timestamp) -%}
  {%- set spine_ts = 'spine.' ~ plan.timestamp %}
select
    spine.*
    {%- for view in plan.views %}
    {%- set alias = '__pit_' ~ loop.index %}
    {%- set fresh = point_in_time_within_ttl(view, alias ~ '.' ~ view.timestamp, spine_ts) %}
    {%- for column in view.features + [view.timestamp] %}
    {%- set source = alias ~ '.' ~ column %}
    {%- set name = view.timestamp_column if loop.last else column %}
    {%- if fresh %},
    case when {{ fresh }} then {{ source }} end as {{ name }}
    {%- else %},
    {{ source }} as {{ name }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
from {{ spine }} as spine
{%- for view in plan.views %}
{%- set alias = '__pit_' ~ loop.index %}
asof left join (
    select
        {{ view['keys'] | join(', ') }},
        {{ view.timestamp }},
        {%- if view.created %}
        {{ point_in_time_duckdb_order(view.timestamp, view.created) }} as __pit_order,
        {%- endif %}
        {{ view.features | join(', ') }}
    from {{ view.relation }}
    where {{ view.timestamp }} is not null
    {%- for key in view['keys'] %} and {{ key }} is not null{% endfor %}
) as {{ alias }}
    on {% for key in view['keys'] %}{{ alias }}.{{ key }} = spine.{{ key }} and {% endfor -%}
    {%- if view.created %}
    {{ point_in_time_duckdb_order(spine_ts) }} >= {{ alias }}.__pit_order
    {%- else %}
    {{ spine_ts }} >= {{ alias }}.{{ view.timestamp }}
    {%- endif %}
{%- endfor %}
{%- endmacro %}


{#
  (event timestamp, created timestamp) as one HUGEINT in the same order: the
  event time in microseconds in the high 64 bits, the created time (offset to be
  non-negative; NULL as 0) in the low 64. A spine time takes the largest low
  part, so every row of the same event time is at or before it.
#}
{% macro point_in_time_duckdb_order(timestamp, created=none) -%}
  (epoch_us(cast({{ timestamp }} as timestamp))::hugeint * 18446744073709551616 +
  {%- if created is none %} 18446744073709551615)
  {%- else %} coalesce(epoch_us(cast({{ created }} as timestamp))::hugeint + 9223372036854775808, 0))
  {%- endif %}
{%- endmacro %}
