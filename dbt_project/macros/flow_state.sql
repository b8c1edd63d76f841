{#
  The flow state a status gets when no row of the `flow_status_mapping` seed matches it.
  See docs/METRICS.md#status-to-flow-state. Order matters:
  1. a name that says the work was dropped means canceled, whatever its category
     (Jira puts "Won't Do" in the done category, but nothing was delivered);
  2. the To Do and Done categories decide next: "Ready for Development" in To Do is not started yet;
  3. in the In Progress category (or without one), a name that says the work is stuck or queued means
     waiting ("Ready for QA", "Awaiting Review", "In Queue"), anything else active ("In Review", "In QA":
     someone works there);
  4. a status without a usable category (a deleted status seen only in the changelog, or Jira's
     "No category") is read from common English names, else counted as active, the usual case for
     custom workflow steps.
  Names are compared in lower case, on word boundaries where a word could hide inside another.
#}
{% macro default_flow_state(status_name, status_category_key) -%}
    {#- patterns as set blocks: literal text, so `\b` and the quotes reach the SQL as written -#}
    {%- set canceled_words %}$$won['’]?t do|cancel|declined|duplicate|rejected$$ {% endset -%}
    {%- set waiting_words %}$$\b(blocked|waiting|awaiting|ready|queued?|pending|on hold)\b$$ {% endset -%}
    {%- set new_names %}$$^(to ?do|open|reopened|backlog|inbox|new)$$ {% endset -%}
    {%- set done_names %}$$^(done|closed|resolved|released|complete[d]?)$$ {% endset -%}
    {%- set name = 'lower(' ~ status_name ~ ')' -%}
    case
        when {{ regex_matches(name, canceled_words | trim) }}
            then 'canceled'
        when {{ status_category_key }} = 'new' then 'new'
        when {{ status_category_key }} = 'done' then 'done'
        when {{ regex_matches(name, waiting_words | trim) }}
            then 'waiting'
        when {{ status_category_key }} = 'indeterminate' then 'active'
        when {{ regex_matches(name, new_names | trim) }}
            then 'new'
        when {{ regex_matches(name, done_names | trim) }}
            then 'done'
        else 'active'
    end
{%- endmacro %}

{#
  The `flow_status_mapping` seed row that maps each status of the CTE `rows` (source_instance, the project or
  team column `scope`, the status key column `key` and name column `name`): the most specific match by name (an
  exact source instance before '*', then an exact project or team), as Jira's mapping does. Columns:
  source_instance, `scope`, `key`, flow_state.
#}
{% macro flow_status_seed_matches(rows, scope, key, name) -%}
    select distinct on ({{ rows }}.source_instance, {{ rows }}.{{ scope }}, {{ rows }}.{{ key }})
        {{ rows }}.source_instance, {{ rows }}.{{ scope }}, {{ rows }}.{{ key }}, mapping.flow_state
    from {{ rows }}
    inner join {{ ref('flow_status_mapping') }} as mapping
        on mapping.source_instance in ({{ rows }}.source_instance, '*')
        and mapping.project_key in ({{ rows }}.{{ scope }}, '*')
        and lower(trim(mapping.status_name)) = lower({{ rows }}.{{ name }})
    order by {{ rows }}.source_instance, {{ rows }}.{{ scope }}, {{ rows }}.{{ key }},
        (mapping.source_instance <> '*')::integer * 2 + (mapping.project_key <> '*')::integer desc,
        mapping.flow_state
{%- endmacro %}
