{#
  The owner of an epic or initiative as a (team, value_stream) pair of columns: the issue's own team, else
  the most common owner of its children (`children_present` SQL true when it has any), else `unassigned`.
  Team and value stream always come from the same choice, never one from each.
#}
{% macro owner_team_and_value_stream(own, children_present, children_team, children_value_stream) -%}
        case
            when {{ own }}.team <> 'unassigned' then {{ own }}.team
            when {{ children_present }} then {{ children_team }}
            else 'unassigned'
        end as team,
        case
            when {{ own }}.team <> 'unassigned' then {{ own }}.value_stream
            when {{ children_present }} then {{ children_value_stream }}
            else 'unassigned'
        end as value_stream
{%- endmacro %}

{#
  When an epic or initiative shipped and how long it took, from its created_at, first_started_at and
  first_shipped_at columns (docs/METRICS.md#realization-metrics, "Time to market").
#}
{% macro shipping_times() -%}
    date_trunc('month', first_shipped_at)::date as shipped_month,
    {{ hours_between('created_at', 'first_shipped_at') }} as time_to_market_hours,
    {{ hours_between('first_started_at', 'first_shipped_at') }} as started_to_shipped_hours
{%- endmacro %}
