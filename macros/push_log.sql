{#
  A push-fed view's push log as a relation: the rows pushed to `view` (POST /push/<view>,
  `python -m sync stream`), with the columns, and their data_type, that the calling model declares
  in its YAML. The log is the folder data/push/<view>/ (the rule of the registry's
  push_log_folder): Parquet files written by its compaction, and landing/*.json, the files a push
  writes durably before it answers (JSON arrays of rows, so that the serving process needs
  neither pyarrow nor DuckDB). An empty log, before the first push, is an empty relation of the
  same columns, so the project builds straight after a clone.
#}
{% macro push_log_folder(view) -%}
  data/push/{{ view }}
{%- endmacro %}

{% macro push_log(view) -%}
  {%- set columns = model.columns.values() | list -%}
  {%- if execute and columns | length == 0 or execute and columns | selectattr('data_type', 'none') | list | length > 0 -%}
    {{ exceptions.raise_compiler_error(
         "push_log('" ~ view ~ "') in model " ~ model.name ~ ": declare every column of the log, with its "
         ~ "data_type, in the model's YAML") }}
  {%- endif -%}
  {{ return(adapter.dispatch('push_log', 'feature_store')(view, columns)) }}
{%- endmacro %}

{% macro push_log_select_list(columns, nulls=false, portable=false) -%}
  {%- for column in columns -%}
    cast({{ 'null' if nulls else adapter.quote(column.name) }} as {{ push_log_type(column.data_type) if portable else column.data_type }}) as {{ adapter.quote(column.name) }}
    {{- ", " if not loop.last }}
  {%- endfor -%}
{%- endmacro %}

{#- Spark casts to `string`, not `varchar` (which it accepts only with a length). -#}
{% macro push_log_type(data_type) -%}
  {%- set name = data_type | lower | trim -%}
  {%- if name in ('varchar', 'text', 'string') or name.startswith('varchar(') -%}
    {{ dbt.type_string() }}
  {%- else -%}
    {{ data_type }}
  {%- endif -%}
{%- endmacro %}

{% macro duckdb__push_log(view, columns) -%}
  {%- set folder = push_log_folder(view) -%}
  {%- set found = {'parquet': 0, 'landing': 0} -%}
  {%- if execute -%}
    {%- set counts = run_query(
          "select (select count(*) from glob('" ~ folder ~ "/*.parquet')), "
          ~ "(select count(*) from glob('" ~ folder ~ "/landing/*.json'))") -%}
    {%- do found.update({'parquet': counts.columns[0].values()[0], 'landing': counts.columns[1].values()[0]}) -%}
  {%- endif -%}
  (
  {%- if found.parquet > 0 %}
    select {{ push_log_select_list(columns) }}
    from read_parquet('{{ folder }}/*.parquet', union_by_name = true)
  {%- endif %}
  {%- if found.parquet > 0 and found.landing > 0 %}
    union all
  {%- endif %}
  {%- if found.landing > 0 %}
    select {{ push_log_select_list(columns) }}
    from read_json('{{ folder }}/landing/*.json', format = 'array', columns = {
      {%- for column in columns %}'{{ column.name }}': '{{ column.data_type }}'{{ ", " if not loop.last }}{% endfor -%}
    })
  {%- endif %}
  {%- if found.parquet == 0 and found.landing == 0 %}
    select {{ push_log_select_list(columns, nulls=true) }} where 1 = 0
  {%- endif %}
  )
{%- endmacro %}

{#
  Other adapters (Spark): the log is not read yet, so a push-fed view holds its backfill only there.
  The relation keeps the log's columns, so the project builds the same.
#}
{% macro default__push_log(view, columns) -%}
  {%- do log("push_log('" ~ view ~ "'): the push log is read on DuckDB only; " ~ target.type
             ~ " builds the view from its backfill", info=true) -%}
  (select {{ push_log_select_list(columns, nulls=true, portable=true) }} where 1 = 0)
{%- endmacro %}
