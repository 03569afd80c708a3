{#
  The model has as many rows as compare_model: a training set keeps every row of
  its spine, duplicates included. Returns one row when the counts differ.
#}
{% test row_count_equals(model, compare_model) %}

select model_rows, compare_rows
from (select count(*) as model_rows from {{ model }}) as counted
cross join (select count(*) as compare_rows from {{ compare_model }}) as compared
where model_rows <> compare_rows

{% endtest %}
