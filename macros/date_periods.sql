{#
  The start of every `datepart` period from `start_date` to `end_date`, both
  included: start_date, start_date + 1 datepart, ... up to end_date, one row each
  in a column `date_<datepart>`. The bounds are SQL expressions and may query
  models.

  dbt.date_spine counts its periods with a query at compile time, so `dbt compile`
  and `dbt docs generate` fail before the models its bounds read are built, and a
  unit test must mock the count. Here the SQL counts: a numbers table of
  cross-joined digits, plain SQL that DuckDB and Spark both run. It holds 100,000
  periods (273 years of days); bounds further apart would be cut short.
#}
{% macro date_periods(datepart, start_date, end_date) -%}

    with period_digits as (

        select 0 as digit
        {%- for digit in range(1, 10) %} union all select {{ digit }}{% endfor %}

    ),

    period_numbers as (

        select ones.digit + 10 * tens.digit + 100 * hundreds.digit + 1000 * thousands.digit
            + 10000 * ten_thousands.digit as period_number
        from period_digits as ones
        cross join period_digits as tens
        cross join period_digits as hundreds
        cross join period_digits as thousands
        cross join period_digits as ten_thousands

    ),

    period_bounds as (

        select {{ start_date }} as start_bound, {{ end_date }} as end_bound

    ),

    periods as (

        select
            {{ dbt.dateadd(datepart, 'numbers.period_number', 'bounds.start_bound') }} as date_{{ datepart }},
            bounds.end_bound
        from period_numbers as numbers
        cross join period_bounds as bounds

    )

    select date_{{ datepart }}
    from periods
    where date_{{ datepart }} <= end_bound

{%- endmacro %}
