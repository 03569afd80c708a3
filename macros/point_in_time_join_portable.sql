{#
  The portable point-in-time join, in standard SQL (window functions, equality
  joins, dbt's cross-database dateadd), for warehouses and Spark without an ASOF
  join. Per view:
    1. rank the view's rows per key by (event timestamp, created timestamp);
    2. interleave them with the spine's distinct (key, timestamp) pairs, a view
       row before a spine pair of the same timestamp (equality is included);
    3. a running max of the rank gives each spine pair its latest row at or
       before it (aggregates skip the spine's NULL ranks), fetched back by
       (key, rank) and dropped when older than the ttl;
    4. the spine joins its pair by equality, so each spine row appears once.
  No range join: the work grows with the rows, not with rows x history.
#}
{% macro default__point_in_time_join(spine, features, spine_timestamp='event_timestamp') -%}
  {%- set plan = point_in_time_plan(spine, features, spine_timestamp) %}
with
{%- for view in plan.views %}
{%- set cte = '__pit_' ~ loop.index %}
{%- set keys = view['keys'] %}
{%- set pit_keys = [] %}
{%- for key in keys %}{% do pit_keys.append('__pit_key_' ~ loop.index) %}{% endfor %}
{{ cte }}_rows as (
    select
        {%- for key in keys %}
        {{ key }} as {{ pit_keys[loop.index0] }},
        {%- endfor %}
        {{ view.timestamp }} as __pit_feature_ts,
        {%- for feature in view.features %}
        {{ feature }},
        {%- endfor %}
        row_number() over (
            partition by {{ keys | join(', ') }}
            order by {{ view.timestamp }}{% if view.created %}, {{ view.created }} nulls first{% endif %}
        ) as __pit_rank
    from {{ view.relation }}
    where {{ view.timestamp }} is not null
    {%- for key in keys %} and {{ key }} is not null{% endfor %}
),

{{ cte }}_spine as (
    select distinct
        {%- for key in keys %}
        {{ key }} as {{ pit_keys[loop.index0] }},
        {%- endfor %}
        {{ plan.timestamp }} as __pit_ts
    from {{ spine }} as spine
    where {{ plan.timestamp }} is not null
    {%- for key in keys %} and {{ key }} is not null{% endfor %}
),

{{ cte }}_latest as (
    select
        {{ pit_keys | join(', ') }},
        __pit_ts,
        __pit_kind,
        max(__pit_rank) over (
            partition by {{ pit_keys | join(', ') }}
            order by __pit_ts, __pit_kind
            rows between unbounded preceding and current row
        ) as __pit_rank
    from (
        select {{ pit_keys | join(', ') }}, __pit_feature_ts as __pit_ts, 0 as __pit_kind, __pit_rank
        from {{ cte }}_rows
        union all
        select {{ pit_keys | join(', ') }}, __pit_ts, 1 as __pit_kind, cast(null as {{ dbt.type_bigint() }}) as __pit_rank
        from {{ cte }}_spine
    ) as __pit_stream
),

{{ cte }} as (
    {%- set fresh = point_in_time_within_ttl(view, 'feature_rows.__pit_feature_ts', 'latest.__pit_ts') %}
    select
        {%- for key in pit_keys %}
        latest.{{ key }},
        {%- endfor %}
        latest.__pit_ts,
        {%- for column in view.features + ['__pit_feature_ts'] %}
        {%- if fresh %}
        case when {{ fresh }} then feature_rows.{{ column }} end as {{ column }}
        {%- else %}
        feature_rows.{{ column }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ cte }}_latest as latest
    left join {{ cte }}_rows as feature_rows
        on {% for key in pit_keys %}feature_rows.{{ key }} = latest.{{ key }} and {% endfor -%}
        feature_rows.__pit_rank = latest.__pit_rank
    where latest.__pit_kind = 1
){{ ',' if not loop.last }}
{% endfor %}
select
    spine.*
    {%- for view in plan.views %}
    {%- set cte = '__pit_' ~ loop.index %}
    {%- for feature in view.features %},
    {{ cte }}.{{ feature }}
    {%- endfor %},
    {{ cte }}.__pit_feature_ts as {{ view.timestamp_column }}
    {%- endfor %}
from {{ spine }} as spine
{%- for view in plan.views %}
{%- set cte = '__pit_' ~ loop.index %}
left join {{ cte }}
    on {% for key in view['keys'] %}{{ cte }}.__pit_key_{{ loop.index }} = spine.{{ key }} and {% endfor -%}
    {{ cte }}.__pit_ts = spine.{{ plan.timestamp }}
{%- endfor %}
{%- endmacro %}
