{#
  The feature dtype a SQL type holds (`BIGINT` -> int64, `varchar(20)` -> string,
  `DOUBLE[]` -> list<float64>, Spark's `array<string>` -> list<string>), or none
  when it holds none: the build's side of the rule the sync's registry applies
  (feature_store/registry/manifest.py, dtype_of_sql_type). A feature's contract
  `data_type` is its one declaration, and its dtype (what the online store serves)
  follows from it; the feature_dtypes test checks the data_type maps to a dtype
  and that the built column holds it.

  Plain Jinja with one `return` at the end, so tests/quality can render it
  outside dbt and prove it gives the same answers as dtype_of_sql_type.
#}
{% macro feature_dtype_of(sql_type) -%}
  {#- HUGEINT is left out: its values need not fit int64 -#}
  {%- set sql_types = {
      'int64': ['bigint', 'int8', 'int64', 'long', 'integer', 'int', 'int4', 'int32', 'smallint', 'int2',
                'tinyint'],
      'float64': ['double', 'float8', 'float64', 'double precision', 'float', 'float4', 'real'],
      'bool': ['boolean', 'bool'],
      'string': ['varchar', 'text', 'string', 'char', 'bpchar', 'character varying'],
      'timestamp': ['timestamp', 'timestamp_us', 'timestamp_ns', 'timestamp_ms', 'timestamp_s', 'datetime',
                    'timestamptz', 'timestamp with time zone', 'timestamp without time zone'],
  } -%}
  {%- set list_elements = ['int64', 'float64', 'bool', 'string'] -%}
  {#- `decimal(18, 3)` -> `decimal`: type parameters do not change the kind of value -#}
  {%- set sql_type = (sql_type or '') | string | trim | lower -%}
  {%- if '(' in sql_type and ')' in sql_type[sql_type.find('('):] -%}
    {%- set sql_type = (sql_type[:sql_type.find('(')] ~ sql_type[sql_type.rfind(')') + 1:]) | trim -%}
  {%- endif -%}
  {%- set element = none -%}
  {%- if sql_type.startswith('array<') and sql_type.endswith('>') and sql_type | length > 7 -%}
    {%- set element = sql_type[6:-1] | trim -%}
  {%- elif sql_type.endswith('[]') and sql_type | length > 2 -%}
    {%- set element = sql_type[:-2] | trim -%}
  {%- endif -%}
  {#- a namespace carries the match out of the loop (a plain `set` inside it would not) -#}
  {%- set found = namespace(dtype=none) -%}
  {%- for dtype, names in sql_types.items() if (element if element is not none else sql_type) in names -%}
    {%- set found.dtype = dtype -%}
  {%- endfor -%}
  {%- if element is none -%}
    {%- set result = found.dtype -%}
  {%- elif found.dtype in list_elements -%}
    {%- set result = 'list<' ~ found.dtype ~ '>' -%}
  {%- else -%}
    {%- set result = none -%}
  {%- endif -%}
  {{- return(result) -}}
{%- endmacro %}
