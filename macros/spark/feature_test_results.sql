{#
  The quality gate's record on Spark (see record_feature_test_results). Spark SQL
  writes no single file, so the record is a text table located at the record's
  path: a folder of part files, one JSON object a line, which the sync reads
  like the file DuckDB writes. The table is made again each time (dropping a
  table with a location keeps its files), so it always points at this project's
  target folder, wherever the project has moved.
#}
{% macro spark_feature_test_results_table(path) -%}
  {%- set table = target.schema ~ '.feature_test_results' -%}
  {%- do run_query('create database if not exists ' ~ target.schema) -%}
  {%- do run_query('drop table if exists ' ~ table) -%}
  {%- do run_query('create table ' ~ table ~ ' (value string) using text location ' ~ spark_sql_text(path)) -%}
  {{- return(table) -}}
{%- endmacro %}

{% macro spark__feature_test_results_read(path) -%}
  {%- set table = spark_feature_test_results_table(path) -%}
  {{- return(feature_test_results_parse(run_query('select value from ' ~ table).columns[0].values())) -}}
{%- endmacro %}

{% macro spark__feature_test_results_write(path, records) -%}
  {%- set table = spark_feature_test_results_table(path) -%}
  {%- set rows = [] -%}
  {%- for record in records -%}
    {%- do rows.append('(' ~ spark_sql_text(tojson(record)) ~ ')') -%}
  {%- endfor -%}
  {%- call statement('record_feature_test_results') -%}
    insert overwrite table {{ table }}
    select /*+ COALESCE(1) */ value from (values {{ rows | join(', ') }}) as records (value)
  {%- endcall -%}
{%- endmacro %}

{# A Spark SQL string literal: Spark reads backslash escapes in literals and does not double quotes. #}
{% macro spark_sql_text(value) -%}
  {{- return("'" ~ (value if value is not none else '') | string | replace('\\', '\\\\') | replace("'", "\\'") ~ "'") -}}
{%- endmacro %}
