{#
  What the feature-contract tests (macros/tests/test_feature_*.sql) read about
  the view they test, from its YAML in the graph, so applying them takes no
  arguments and nothing is written twice: `feature_view_description` of the
  model's node, plus its freshness in seconds.
#}
{% macro feature_view_spec(model, test_name) -%}
  {%- set spec = feature_view_description(feature_view_node(model, test_name), test_name) -%}
  {%- do spec.update({
      'freshness_seconds': feature_duration_seconds(spec['freshness'], spec['name'] ~ ' freshness'),
  }) -%}
  {{- return(spec) -}}
{%- endmacro %}


{#
  A feature view as its graph node declares it, for every macro that reads one
  (the contract tests, the point-in-time join):

    {'name', 'entity', 'keys': [join keys], 'key_dtype', 'timestamp', 'created_timestamp',
     'freshness', 'ttl', 'columns', 'features': [{'name', 'data_type', 'meta_dtype'}]}

  The entity's join keys come from the `entities` declaration that the view
  inherits (dbt_project.yml), the rest from the view's `config.meta` and columns.
  Every column but the join keys and the timestamps is a feature, unless its meta
  says `feature: false` (as the sync's registry decides); its dtype follows from
  its `data_type` (feature_dtype_of, macros/feature_dtypes.sql), and `meta_dtype`
  is a `dtype` still written in its meta, or none.
  `who` names the macro in the error raised for a model that is not a view.
#}
{% macro feature_view_description(node, who) -%}
  {%- set meta = node.config.meta or {} -%}
  {%- set entity = meta.get('entity') -%}
  {%- set entity_spec = (meta.get('entities') or {}).get(entity) if entity else none -%}
  {%- if entity_spec is none or not meta.get('timestamp') -%}
    {{- exceptions.raise_compiler_error(
        who ~ ": model '" ~ node.name ~ "' is not a feature view: its config.meta needs `entity` "
        ~ "(declared under `entities:` in dbt_project.yml) and `timestamp`"
    ) -}}
  {%- endif -%}
  {%- set keys = entity_spec.get('join_keys') or [entity_spec.get('join_key')] -%}
  {%- set not_features = keys + [meta.get('timestamp'), meta.get('created_timestamp')] -%}
  {%- set features = [] -%}
  {%- for column in node.columns.values() if column.name not in not_features -%}
    {%- set column_meta = (column.config or {}).get('meta') or column.meta or {} -%}
    {%- if column_meta.get('feature') is not sameas false -%}
      {%- do features.append({
          'name': column.name,
          'data_type': column.data_type,
          'meta_dtype': column_meta.get('dtype'),
      }) -%}
    {%- endif -%}
  {%- endfor -%}
  {{- return({
      'name': node.name,
      'entity': entity,
      'keys': keys,
      'key_dtype': entity_spec.get('dtype', 'string'),
      'timestamp': meta.get('timestamp'),
      'created_timestamp': meta.get('created_timestamp') or none,
      'freshness': meta.get('freshness'),
      'ttl': meta.get('ttl'),
      'columns': node.columns,
      'features': features,
  }) -}}
{%- endmacro %}


{# The graph node of a model (a relation, as a generic test or ref() gives it): its metadata lives there. #}
{% macro feature_view_node(model, who, fix='apply it to a feature view') -%}
  {%- set rendered = model | string -%}
  {%- set identifier = (model.identifier or '') | lower if model.identifier is defined else '' -%}
  {%- set by_identifier = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
    {%- if node.relation_name == rendered -%}
      {{- return(node) -}}
    {%- elif identifier and (node.alias or node.name) | lower == identifier -%}
      {%- do by_identifier.append(node) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if by_identifier | length == 1 -%}
    {{- return(by_identifier[0]) -}}
  {%- endif -%}
  {{- exceptions.raise_compiler_error(
      who ~ ": " ~ rendered ~ " is not a model of this project; " ~ fix
  ) -}}
{%- endmacro %}


{# A duration as written in feature YAML (`30s`, `5m`, `1h`, `1d`, `2w`) in seconds. #}
{% macro feature_duration_seconds(text, what) -%}
  {%- set match = modules.re.match('^\\s*(\\d+)\\s*([smhdw])\\s*$', (text or '') | string) -%}
  {%- if not match or match.group(1) | int == 0 -%}
    {{- exceptions.raise_compiler_error(
        what ~ " is '" ~ text ~ "'; write a positive whole number and a unit s, m, h, d or w (e.g. 1h)"
    ) -}}
  {%- endif -%}
  {%- set units = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800} -%}
  {{- return(match.group(1) | int * units[match.group(2)]) -}}
{%- endmacro %}


{#
  The clock the freshness test judges against: var `freshness_as_of` when set,
  else var `demo_now` (the demo's seeds are shifted relative to that instant),
  else the current time. Tests pin it so their verdicts never depend on the day.
#}
{% macro feature_quality_now() -%}
  {%- set pinned = var('freshness_as_of', none) or var('demo_now', none) -%}
  {%- if pinned -%}
    cast('{{ pinned }}' as timestamp)
  {%- else -%}
    cast({{ dbt.current_timestamp() }} as timestamp)
  {%- endif -%}
{%- endmacro %}
