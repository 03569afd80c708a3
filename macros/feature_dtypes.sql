{#
  Whether a SQL type (`BIGINT`, `varchar(20)`, `DOUBLE[]`, `array<string>`) holds
  a feature dtype: the build's side of the rule the sync's registry applies
  (feature_store/registry/manifest.py, data_type_agrees). A feature column's meta `dtype` is what
  the online store serves; its contract `data_type` is what the model produces.
  Both are written in the YAML, so the build checks that they agree (the
  feature_dtypes test) and so does the sync: they cannot drift apart unnoticed.

  Plain Jinja with one `return` at the end, so tests/quality can render it
  outside dbt and prove it gives the same answers as data_type_agrees.
#}
{% macro feature_dtype_agrees(dtype, data_type) -%}
  {%- set sql_types = {
      'int64': ['bigint', 'int8', 'int64', 'long', 'integer', 'int', 'int4', 'int32', 'smallint', 'int2',
                'tinyint', 'hugeint'],
      'float64': ['double', 'float8', 'float64', 'double precision', 'float', 'float4', 'real'],
      'bool': ['boolean', 'bool'],
      'string': ['varchar', 'text', 'string', 'char', 'bpchar', 'character varying'],
      'timestamp': ['timestamp', 'timestamp_us', 'timestamp_ns', 'timestamp_ms', 'timestamp_s', 'datetime',
                    'timestamptz', 'timestamp with time zone', 'timestamp without time zone'],
  } -%}
  {#- `decimal(18, 3)` -> `decimal`: type parameters do not change the kind of value -#}
  {%- set sql_type = (data_type or '') | string | trim | lower -%}
  {%- if '(' in sql_type and ')' in sql_type[sql_type.find('('):] -%}
    {%- set sql_type = (sql_type[:sql_type.find('(')] ~ sql_type[sql_type.rfind(')') + 1:]) | trim -%}
  {%- endif -%}
  {%- set dtype = (dtype or '') | string -%}
  {%- if dtype.startswith('list<') and dtype.endswith('>') -%}
    {%- set element = dtype[5:-1] | trim -%}
    {%- set inner = none -%}
    {%- if sql_type.startswith('array<') and sql_type.endswith('>') and sql_type | length > 7 -%}
      {%- set inner = sql_type[6:-1] | trim -%}
    {%- elif sql_type.endswith('[]') and sql_type | length > 2 -%}
      {%- set inner = sql_type[:-2] | trim -%}
    {%- endif -%}
    {%- set agrees = inner is not none and inner in sql_types.get(element, []) -%}
  {%- else -%}
    {%- set agrees = sql_type in sql_types.get(dtype, []) -%}
  {%- endif -%}
  {{- return(agrees) -}}
{%- endmacro %}
