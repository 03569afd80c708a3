{#
  Feature contract: every column's values fit its declared dtype. Checks, from
  the view's YAML and the built relation (for an external view, the types read
  back from its Parquet file, i.e. what the sync will read):
    - each feature column exists and its built type holds its meta `dtype`;
    - its contract `data_type`, where declared, holds the same dtype, so the two
      declarations cannot drift apart (the registry applies the same rule);
    - the entity key(s) hold the entity's dtype, the timestamp columns are
      timestamps.
  Returns one row per problem: column_name, dtype, found_type, problem.
#}
{% test feature_dtypes(model) %}
{%- set problems = [] -%}
{%- if execute -%}
  {%- set spec = feature_view_spec(model, 'feature_dtypes') -%}
  {%- set built = {} -%}
  {%- for column in adapter.get_columns_in_relation(model) -%}
    {%- do built.update({column.name | lower: column.dtype}) -%}
  {%- endfor -%}
  {%- set expected = [] -%}
  {%- for key in spec['keys'] -%}
    {%- do expected.append({'name': key, 'dtype': spec['key_dtype'], 'what': 'entity key'}) -%}
  {%- endfor -%}
  {%- for column in [spec['timestamp'], spec['created_timestamp']] if column -%}
    {%- do expected.append({'name': column, 'dtype': 'timestamp', 'what': 'timestamp column'}) -%}
  {%- endfor -%}
  {%- for feature in spec['features'] -%}
    {%- do expected.append({'name': feature.name, 'dtype': feature.dtype, 'what': 'feature',
                            'data_type': feature.data_type}) -%}
  {%- endfor -%}
  {%- for column in expected -%}
    {%- set found = built.get(column.name | lower) -%}
    {%- if found is none -%}
      {%- do problems.append([column.name, column.dtype, 'missing',
          column.what ~ ' is not in the built relation']) -%}
    {%- elif not feature_dtype_agrees(column.dtype, found) -%}
      {%- do problems.append([column.name, column.dtype, found,
          column.what ~ ' is built as ' ~ found ~ ', which does not hold dtype ' ~ column.dtype]) -%}
    {%- endif -%}
    {%- if column.data_type and not feature_dtype_agrees(column.dtype, column.data_type) -%}
      {%- do problems.append([column.name, column.dtype, column.data_type,
          'contract data_type ' ~ column.data_type ~ ' disagrees with meta dtype ' ~ column.dtype
          ~ ': make them agree']) -%}
    {%- endif -%}
  {%- endfor -%}
{%- endif %}
{%- if problems %}
select *
from (values
    {%- for problem in problems %}
    ({% for value in problem %}'{{ value | string | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
    {{- ',' if not loop.last }}
    {%- endfor %}
) as problems (column_name, dtype, found_type, problem)
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as column_name,
    cast(null as {{ dbt.type_string() }}) as dtype,
    cast(null as {{ dbt.type_string() }}) as found_type,
    cast(null as {{ dbt.type_string() }}) as problem
from {{ model }}
where false
{%- endif %}
{% endtest %}
