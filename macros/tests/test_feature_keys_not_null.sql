{#
  Feature contract: the entity key(s) and the event timestamp are never null. A
  row without them can neither be served nor joined point in time. Returns the
  offending rows.
#}
{% test feature_keys_not_null(model) %}
{%- if execute %}
{%- set spec = feature_view_spec(model, 'feature_keys_not_null') %}
select *
from {{ model }}
where {% for column in spec['keys'] + [spec['timestamp']] -%}
    {{ column }} is null{{ ' or ' if not loop.last }}
{%- endfor %}
{%- else %}
select 1 as offending_row where false
{%- endif %}
{% endtest %}
