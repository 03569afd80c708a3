{#
  Seeds on Spark: Spark's CSV reader loads the file itself. dbt-spark's own
  loader sends the rows as INSERT ... VALUES statements of bound literals, which
  Spark parses slowly (about two minutes for the demo's 52,000 watch events,
  against seconds here). The columns are read as text and cast to the seed's
  column types, as dbt-spark's loader casts its literals.
#}
{% macro spark__load_csv_rows(model, agate_table) -%}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set path = model['root_path'] ~ '/' ~ model['original_file_path'] -%}
  {%- set view = '__dbt_seed_csv_' ~ model['name'] -%}
  {%- call statement('_') -%}
    create or replace temporary view {{ view }}
    using csv options (path {{ spark_sql_text(path) }}, header 'true', inferSchema 'false')
  {%- endcall -%}
  {%- set sql -%}
    insert into {{ this.render() }}
    select
      {%- for col_name in agate_table.column_names %}
      {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) %}
      cast(`{{ col_name }}` as {{ type }}){{ ',' if not loop.last }}
      {%- endfor %}
    from {{ view }}
  {%- endset -%}
  {%- call statement('_') -%}
    {{ sql }}
  {%- endcall -%}
  {{- return(sql) -}}
{%- endmacro %}
