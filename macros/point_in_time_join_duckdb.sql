{#
  DuckDB: one ASOF LEFT JOIN per view. ASOF takes, per spine row, the feature
  row with the greatest timestamp <= the spine's; it allows one inequality only,
  so the ttl is applied to that row afterwards (an expired latest row means every
  earlier row is expired too), and created-timestamp ties are settled first by
  keeping the latest-loaded row per (key, event timestamp).
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
    {%- set name = view.timestamp_column if loop.last else column %}
    {%- if fresh %},
    case when {{ fresh }} then {{ alias }}.{{ column }} end as {{ name }}
    {%- else %},
    {{ alias }}.{{ column }} as {{ name }}
    {%- endif %}
    {%- endfor %}
    {%- endfor %}
from {{ spine }} as spine
{%- for view in plan.views %}
{%- set alias = '__pit_' ~ loop.index %}
asof left join (
    select {{ view['keys'] | join(', ') }}, {{ view.timestamp }}, {{ view.features | join(', ') }}
    from {{ view.relation }}
    where {{ view.timestamp }} is not null
    {%- for key in view['keys'] %} and {{ key }} is not null{% endfor %}
    {%- if view.created %}
    qualify row_number() over (
        partition by {{ view['keys'] | join(', ') }}, {{ view.timestamp }}
        order by {{ view.created }} desc nulls last
    ) = 1
    {%- endif %}
) as {{ alias }}
    on {% for key in view['keys'] %}{{ alias }}.{{ key }} = spine.{{ key }} and {% endfor -%}
    {{ spine_ts }} >= {{ alias }}.{{ view.timestamp }}
{%- endfor %}
{%- endmacro %}
