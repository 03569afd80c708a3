{#
  Proves a training set leaks nothing: no joined feature row is dated after its
  spine row, nor older than its view's ttl. Reads the `<view>__event_timestamp`
  columns that point_in_time_join adds, and each view's ttl from its metadata, so
  it needs no arguments beyond the spine's timestamp column. Returns the rows
  that leak.
#}
{% test no_future_leakage(model, spine_timestamp='event_timestamp') %}
{%- set checks = [] -%}
{%- if execute -%}
  {%- set suffix = '__event_timestamp' -%}
  {%- set columns = adapter.get_columns_in_relation(model) -%}
  {%- for column in columns -%}
    {%- set name = column.name -%}
    {%- if name | lower != spine_timestamp | lower and name.lower().endswith(suffix) -%}
      {%- set view = name[:-(suffix | length)] -%}
      {%- set nodes = graph.nodes.values()
          | selectattr('resource_type', 'equalto', 'model')
          | selectattr('name', 'equalto', view) | list -%}
      {%- if nodes | length != 1 -%}
        {{- exceptions.raise_compiler_error(
            "no_future_leakage: column '" ~ name ~ "' of " ~ model ~ " names no model '" ~ view ~ "'"
        ) -}}
      {%- endif -%}
      {%- set ttl = point_in_time_seconds((nodes[0].config.meta or {}).get('ttl'), view) -%}
      {%- do checks.append(name ~ ' > ' ~ spine_timestamp) -%}
      {%- if ttl is not none -%}
        {%- do checks.append(name ~ ' < ' ~ (dbt.dateadd('second', -ttl, spine_timestamp) | trim)) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {#- A model not built yet has no columns to read (`dbt docs generate` straight after a
      clone): compile without checks; the test runs only on a built model, whose columns it reads then. -#}
  {%- if columns and not checks -%}
    {{- exceptions.raise_compiler_error(
        "no_future_leakage: " ~ model ~ " has no `<view>__event_timestamp` column; "
        ~ "apply it to a model built with point_in_time_join"
    ) -}}
  {%- endif -%}
{%- endif %}
select *
from {{ model }}
where {{ checks | join('\n    or ') if checks else 'false' }}
{% endtest %}
