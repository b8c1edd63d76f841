{#
  The flow state a status gets when no row of the `flow_status_mapping` seed matches it.
  See docs/METRICS.md#status-to-flow-state. Order matters:
  1. a name that says the work was dropped means canceled, whatever its category
     (Jira puts "Won't Do" in the done category, but nothing was delivered);
  2. the To Do and Done categories decide next: "Ready for Development" in To Do is not started yet;
  3. in the In Progress category (or without one), a name that says the work is stuck or queued means
     waiting, anything else active;
  4. a status without a usable category (a deleted status seen only in the changelog, or Jira's
     "No category") is read from common English names, else counted as active, the usual case for
     custom workflow steps.
  Names are compared in lower case, on word boundaries where a word could hide inside another.
#}
{% macro default_flow_state(status_name, status_category_key) -%}
    case
        when regexp_matches(lower({{ status_name }}), $$won['’]?t do|cancel|declined|duplicate|rejected$$)
            then 'canceled'
        when {{ status_category_key }} = 'new' then 'new'
        when {{ status_category_key }} = 'done' then 'done'
        when regexp_matches(lower({{ status_name }}), $$\b(blocked|waiting|ready|on hold)\b$$)
            then 'waiting'
        when {{ status_category_key }} = 'indeterminate' then 'active'
        when regexp_matches(lower({{ status_name }}), $$^(to ?do|open|reopened|backlog|inbox|new)$$)
            then 'new'
        when regexp_matches(lower({{ status_name }}), $$^(done|closed|resolved|released|complete[d]?)$$)
            then 'done'
        else 'active'
    end
{%- endmacro %}
