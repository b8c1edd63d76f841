{#
  Fails for every combination of the given columns (or SQL expressions) that occurs more than once:
  the grain test for models whose key spans several columns. Written here because the project
  installs no dbt packages (dbt_utils has the same test).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
