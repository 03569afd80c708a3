{#
  Feature contract: one row per (entity key, event timestamp). Two rows for the
  same key and moment make the latest row, and so the served value, ambiguous.
  Keys and timestamp come from the view's YAML; returns each duplicated pair.
#}
{% test feature_unique_rows(model) %}
{%- if execute %}
{%- set spec = feature_view_spec(model, 'feature_unique_rows') %}
{%- set columns = spec['keys'] + [spec['timestamp']] %}
select {{ columns | join(', ') }}, count(*) as rows_per_key_and_timestamp
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{%- else %}
select 1 as rows_per_key_and_timestamp where false
{%- endif %}
{% endtest %}
