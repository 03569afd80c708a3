{#
  The point-in-time join: for each spine row and each feature view, the latest
  feature row with the same entity key and `feature_ts <= spine_ts` (and, where
  the view has a ttl, `feature_ts >= spine_ts - ttl`); no match gives NULL. Where
  the view has a `created_timestamp`, it breaks ties between rows of the same
  event timestamp (the later load wins). Feast's semantics.

    {{ point_in_time_join(
        spine=ref('recommender_spine'),
        features=[
            ref('user_segment'),                                            -- every feature of the view
            {'view': ref('user_last_genre'), 'features': ['last_genre']},   -- a pick
        ],
    ) }}

  - spine: a relation (ref/source), or a SQL from-item that can be queried on its
    own (a table function such as read_parquet('...'), or a parenthesised select).
    It holds each view's join keys and `spine_timestamp`; every column passes
    through unchanged and every spine row appears exactly once, duplicates included.
  - features: views named with ref(), so dbt sees the dependencies. Keys,
    timestamps and ttl come from each view's `config.meta`, never repeated here.
  - Feature columns keep their names (a clash is a compile error); each view adds
    `<view>__event_timestamp`, the event time of the row its values came from.
  - Rows of one view that tie on (key, event timestamp) and, where there is one,
    on the created timestamp are ambiguous: keep them unique (the feature views'
    `unique_combination_of_columns` test does).

  The output is one whole select statement (the portable version starts with
  `with`): make it a model's body, or wrap it as a subquery.

  `implementation` (or var `point_in_time_join_implementation`) forces one
  version: `duckdb` (ASOF LEFT JOIN) or `portable` (standard SQL window
  functions, for other warehouses and Spark); by default adapter.dispatch picks.
#}
{% macro point_in_time_join(spine, features, spine_timestamp='event_timestamp', implementation=none) -%}
  {%- set implementation = implementation or var('point_in_time_join_implementation', none) -%}
  {%- if implementation in (none, '', 'dispatch') -%}
    {{- return(adapter.dispatch('point_in_time_join')(spine, features, spine_timestamp)) -}}
  {%- elif implementation == 'portable' -%}
    {{- return(default__point_in_time_join(spine, features, spine_timestamp)) -}}
  {%- elif implementation == 'duckdb' -%}
    {{- return(duckdb__point_in_time_join(spine, features, spine_timestamp)) -}}
  {%- else -%}
    {{- exceptions.raise_compiler_error(
        "point_in_time_join: unknown implementation '" ~ implementation ~ "'; use 'duckdb', 'portable' or none"
    ) -}}
  {%- endif -%}
{%- endmacro %}


{#
  What both implementations need, read from the views' metadata in the graph:
  {'timestamp': spine timestamp column, 'views': [{name, relation, keys,
  timestamp, created, ttl_seconds, features, timestamp_column}]}. Checks the
  names: unknown features, missing spine columns, clashes between outputs.
#}
{% macro point_in_time_plan(spine, features, spine_timestamp) -%}
  {%- set plan = {'timestamp': spine_timestamp, 'views': []} -%}
  {%- if not execute -%}
    {{- return(plan) -}}
  {%- endif -%}
  {%- if features is string or features is mapping or features | length == 0 -%}
    {{- exceptions.raise_compiler_error(
        "point_in_time_join: `features` must be a non-empty list of views, each ref('<view>') "
        ~ "or {'view': ref('<view>'), 'features': ['<feature>', ...]}"
    ) -}}
  {%- endif -%}
  {%- set spine_columns = point_in_time_spine_columns(spine) -%}
  {%- set spine_known = spine_columns | length > 0 -%}
  {%- set owners = {} -%}
  {%- for column in spine_columns -%}
    {%- do owners.update({column | lower: 'the spine'}) -%}
  {%- endfor -%}
  {%- if spine_known and (spine_timestamp | lower) not in owners -%}
    {{- exceptions.raise_compiler_error(
        "point_in_time_join: the spine has no column '" ~ spine_timestamp ~ "' (its columns: "
        ~ spine_columns | join(', ') ~ "); name its timestamp column with spine_timestamp='...'"
    ) -}}
  {%- endif -%}

  {%- for item in features -%}
    {#- A relation also passes `is mapping`; only a plain dict lacks an identifier. -#}
    {%- if item is mapping and item.identifier is not defined -%}
      {%- set relation = item.get('view') -%}
      {%- set picked = item.get('features') -%}
      {%- set unknown_keys = item.keys() | reject('in', ['view', 'features']) | list -%}
      {%- if relation is none or unknown_keys -%}
        {{- exceptions.raise_compiler_error(
            "point_in_time_join: a feature entry takes the keys 'view' and 'features' only, e.g. "
            ~ "{'view': ref('user_last_genre'), 'features': ['last_genre']}; got " ~ item
        ) -}}
      {%- endif -%}
    {%- else -%}
      {%- set relation = item -%}
      {%- set picked = none -%}
    {%- endif -%}
    {%- set node = point_in_time_node(relation) -%}
    {%- set spec = feature_view_description(node, 'point_in_time_join') -%}
    {%- set view = spec.name -%}
    {%- set entity = spec.entity -%}
    {%- set keys = spec['keys'] -%}
    {%- set available = spec.features | map(attribute='name') | list -%}
    {%- if picked is none -%}
      {%- set picked = available -%}
    {%- elif picked is string or picked | length == 0 -%}
      {{- exceptions.raise_compiler_error(
          "point_in_time_join: the features of '" ~ view ~ "' must be a non-empty list of names, e.g. ['"
          ~ (available | first) ~ "']"
      ) -}}
    {%- endif -%}
    {%- for feature in picked -%}
      {%- if feature not in available -%}
        {{- exceptions.raise_compiler_error(
            "point_in_time_join: view '" ~ view ~ "' has no feature '" ~ feature ~ "'; its features: "
            ~ available | join(', ')
        ) -}}
      {%- endif -%}
    {%- endfor -%}

    {%- for key in keys -%}
      {%- if spine_known and (key | lower) not in owners -%}
        {{- exceptions.raise_compiler_error(
            "point_in_time_join: the spine has no column '" ~ key ~ "', the join key of entity '" ~ entity
            ~ "' (view '" ~ view ~ "'); its columns: " ~ spine_columns | join(', ')
        ) -}}
      {%- endif -%}
    {%- endfor -%}
    {%- set timestamp_column = view ~ '__event_timestamp' -%}
    {%- for output in picked + [timestamp_column] -%}
      {%- if (output | lower) in owners -%}
        {{- exceptions.raise_compiler_error(
            "point_in_time_join: column '" ~ output ~ "' of view '" ~ view ~ "' clashes with a column of "
            ~ owners[output | lower] ~ "; leave one out with {'view': ref('" ~ view ~ "'), 'features': [...]}"
            ~ " or rename the spine's column"
        ) -}}
      {%- endif -%}
      {%- do owners.update({output | lower: "view '" ~ view ~ "'"}) -%}
    {%- endfor -%}

    {%- do plan.views.append({
        'name': view,
        'relation': relation,
        'keys': keys,
        'timestamp': spec.timestamp,
        'created': spec.created_timestamp,
        'ttl_seconds': point_in_time_seconds(spec.ttl, view),
        'features': picked,
        'timestamp_column': timestamp_column,
    }) -%}
  {%- endfor -%}
  {{- return(plan) -}}
{%- endmacro %}


{# The graph node of a ref()'d model: its metadata lives there, not on the relation. #}
{% macro point_in_time_node(relation) -%}
  {%- if relation is string -%}
    {{- exceptions.raise_compiler_error(
        "point_in_time_join: name each view with ref('" ~ relation ~ "'), not a string, so dbt sees the dependency"
    ) -}}
  {%- endif -%}
  {{- return(feature_view_node(relation, 'point_in_time_join', "name feature views with ref('<view>')")) -}}
{%- endmacro %}


{# Column names of the spine, or [] when it cannot be read yet (e.g. `dbt compile` before a build). #}
{% macro point_in_time_spine_columns(spine) -%}
  {%- if spine is string -%}
    {{- return(get_columns_in_query('select * from ' ~ spine)) -}}
  {%- endif -%}
  {{- return(adapter.get_columns_in_relation(spine) | map(attribute='name') | list) -}}
{%- endmacro %}


{# A duration as written in feature YAML (`30s`, `5m`, `1h`, `1d`, `2w`) in seconds; none for no ttl. #}
{% macro point_in_time_seconds(text, view='') -%}
  {%- if text is none or text | string | trim in ('', 'none') -%}
    {{- return(none) -}}
  {%- endif -%}
  {{- return(feature_duration_seconds(text, "point_in_time_join: view '" ~ view ~ "' ttl")) -}}
{%- endmacro %}


{# The condition that keeps a matched row within the view's ttl (none when it has no ttl). #}
{% macro point_in_time_within_ttl(view, feature_ts, spine_ts) -%}
  {%- if view.ttl_seconds is none -%}
    {{- return(none) -}}
  {%- endif -%}
  {{- return(feature_ts ~ ' >= ' ~ (dbt.dateadd('second', -view.ttl_seconds, spine_ts) | trim)) -}}
{%- endmacro %}
