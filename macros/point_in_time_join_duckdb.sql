{#
  DuckDB: one ASOF LEFT JOIN per view. ASOF takes, per spine row, the feature
  row with the greatest timestamp <= the spine's; it allows one inequality only,
  so the ttl is applied to that row afterwards (an expired latest row means every
  earlier row is expired too), and created-timestamp ties are settled first by
  keeping the latest-loaded row per (key, event timestamp): an arg_max over a
  struct of the features (a NULL created timestamp loses; NULL feature values
  stay NULL), cheaper than a row_number() window over the whole view.
#}
{% macro duckdb__point_in_time_join(spine, features, spine_timestamp='event_timestamp') -%}
  {%- set plan = point_in_time_plan(spine, features, spine_timestamp) -%}
  {%- set spine_ts = 'spine.' ~ plan.timestamp %}
select
    spine.*
    {%- for view in plan.views %}
    {%- set alias = '__pit_' ~ loop.index %}
    {%- set values = alias ~ ('.__pit_row' if view.created else '') %}
    {%- set fresh = point_in_time_within_ttl(view, alias ~ '.' ~ view.timestamp, spine_ts) %}
    {%- for column in view.features + [view.timestamp] %}
    {%- set source = (alias ~ '.' ~ column) if loop.last else (values ~ '.' ~ column) %}
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
{%- set fields = [] %}
{%- for feature in view.features %}{% do fields.append(feature ~ ' := ' ~ feature) %}{% endfor %}
{%- set row = 'struct_pack(' ~ fields | join(', ') ~ ')' %}
asof left join (
    {%- if view.created %}
    select
        {{ view['keys'] | join(', ') }},
        {{ view.timestamp }},
        coalesce(
            arg_max({{ row }}, {{ view.created }}),
            any_value({{ row }})
        ) as __pit_row
    {%- else %}
    select {{ view['keys'] | join(', ') }}, {{ view.timestamp }}, {{ view.features | join(', ') }}
    {%- endif %}
    from {{ view.relation }}
    where {{ view.timestamp }} is not null
    {%- for key in view['keys'] %} and {{ key }} is not null{% endfor %}
    {%- if view.created %}
    group by {{ view['keys'] | join(', ') }}, {{ view.timestamp }}
    {%- endif %}
) as {{ alias }}
    on {% for key in view['keys'] %}{{ alias }}.{{ key }} = spine.{{ key }} and {% endfor -%}
    {{ spine_ts }} >= {{ alias }}.{{ view.timestamp }}
{%- endfor %}
{%- endmacro %}
