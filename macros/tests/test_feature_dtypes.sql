{#
  Feature contract: every column's values fit its dtype. Checks, from the view's
  YAML and the built relation (for an external view, the types read back from
  its Parquet file, i.e. what the sync will read):
    - each feature column has a contract `data_type` that maps to a dtype
      (feature_dtype_of), and a `dtype` still written in its meta agrees with
      that one (the registry applies the same rules);
    - each feature column exists and its built type holds its dtype; a column
      that is not a feature (a key, a timestamp, `feature: false`) has no `dtype`;
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
    {%- set dtype = feature_dtype_of(feature.data_type) if feature.data_type else none -%}
    {%- if not feature.data_type -%}
      {%- do problems.append([feature.name, '', '',
          'feature has no contract data_type: declare the type the model produces']) -%}
    {%- elif dtype is none -%}
      {%- do problems.append([feature.name, '', feature.data_type,
          'contract data_type ' ~ feature.data_type ~ ' maps to no feature dtype']) -%}
    {%- else -%}
      {%- do expected.append({'name': feature.name, 'dtype': dtype, 'what': 'feature'}) -%}
      {%- if feature.meta_dtype is not none and feature.meta_dtype | string != dtype -%}
        {%- do problems.append([feature.name, dtype, feature.meta_dtype,
            'meta dtype ' ~ feature.meta_dtype ~ ' disagrees with ' ~ dtype ~ ', the dtype of its contract data_type '
            ~ feature.data_type ~ ': remove the dtype']) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set feature_names = spec['features'] | map(attribute='name') | list -%}
  {%- for column in spec['columns'].values() if column.name not in feature_names -%}
    {%- set column_meta = (column.config or {}).get('meta') or column.meta or {} -%}
    {%- if column_meta.get('dtype') is not none -%}
      {%- do problems.append([column.name, '', column_meta.get('dtype'),
          'the column is not a feature, but its meta has dtype ' ~ column_meta.get('dtype') ~ ': remove the dtype']) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for column in expected -%}
    {%- set found = built.get(column.name | lower) -%}
    {%- if found is none -%}
      {%- do problems.append([column.name, column.dtype, 'missing',
          column.what ~ ' is not in the built relation']) -%}
    {%- elif feature_dtype_of(found) != column.dtype -%}
      {%- do problems.append([column.name, column.dtype, found,
          column.what ~ ' is built as ' ~ found ~ ', which does not hold dtype ' ~ column.dtype]) -%}
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
