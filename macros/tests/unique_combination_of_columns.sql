{#
  One row per combination of the given columns, e.g. per (entity key, event
  timestamp) of a feature view. Written here because hub packages (dbt_utils)
  are not a dependency of this project.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select {{ combination_of_columns | join(', ') }}, count(*) as rows_per_combination
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
