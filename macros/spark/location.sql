{#
  Where a Spark table's Parquet files go: `location_root`/<model>. A relative
  location_root is the project's folder, as a DuckDB view's `location` is, and as
  the sync reads the manifest; Spark itself would read it from the schema's
  folder in its warehouse. Replaces dbt-spark's location_clause through the
  dispatch order in dbt_project.yml.
#}
{% macro spark__location_clause() -%}
  {%- set location_root = config.get('location_root', validator=validation.any[basestring]) -%}
  {%- if location_root is not none -%}
    {%- if not location_root.startswith('/') and '://' not in location_root -%}
      {%- set location_root = feature_store_project_root() ~ '/' ~ location_root -%}
    {%- endif %}
    location {{ spark_sql_text(location_root.rstrip('/') ~ '/' ~ model.alias) }}
  {%- endif %}
{%- endmacro %}
