{#
  Deployment rules (throughline.yml `options.deployments` per source, the dbt var `deployment_rules`,
  falling back to `deployment_rule_defaults`) as SQL. A model that applies them joins
  `join_deployment_rules('x.source_instance')` and reads each rule with `deployment_rule('name')`.
  Regexes are matched case-insensitively anywhere in the text: RE2 in DuckDB, PostgreSQL's ARE (with `\b`
  read as a word boundary) there; globs follow DuckDB's GLOB on both (macros/portable/deployments.sql).
  One difference remains for environment_pattern: where two alternatives match at the same place, RE2
  captures the first and ARE the longest (`(prod|production)`); the default's `\b...\b` leaves one choice.
#}

{% macro _sql_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro _sql_text_list(values) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    array[{%- for value in values -%}{{ _sql_text(value) }}{{ ", " if not loop.last }}{%- endfor -%}]::varchar[]
{%- endmacro %}

{# One row per configured source plus the '*' row of defaults. #}
{% macro deployment_rules_rows() -%}
    {%- set rules = var('deployment_rules', {}) or {} -%}
    {%- set rows = [('*', var('deployment_rule_defaults'))] -%}
    {%- for name, rule in rules.items() -%}{%- do rows.append((name, rule)) -%}{%- endfor -%}
    {%- for name, rule in rows %}
    select
        {{ _sql_text(name) }} as source_instance,
        {{ _sql_text(rule['job_pattern']) }} as job_pattern,
        {{ _sql_text_list(rule['branches']) }} as branch_globs,
        {{ _sql_text(rule['environment_pattern']) }} as environment_pattern,
        {{ _sql_text(rule['default_environment'] | lower) }} as default_environment,
        {{ _sql_text_list(rule['production_environments'] | map('lower') | list) }} as production_environments,
        {{ _sql_text(rule['rollback_pattern']) }} as rollback_pattern,
        {{ _sql_text(rule['hotfix_pattern']) }} as hotfix_pattern
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{# One row per (source, scope glob) -> service mapping; ordered by `priority` (file order). #}
{% macro deployment_services_rows() -%}
    {%- set rules = var('deployment_rules', {}) or {} -%}
    {%- set rows = [] -%}
    {%- for name, rule in rules.items() -%}
        {%- for scope_glob, service in (rule.get('services') or {}).items() -%}
            {%- do rows.append((name, scope_glob, service)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for scope_glob, service in (var('deployment_rule_defaults').get('services') or {}).items() -%}
        {%- do rows.append(('*', scope_glob, service)) -%}
    {%- endfor -%}
    {%- if rows -%}
        {%- for name, scope_glob, service in rows %}
    select {{ _sql_text(name) }} as source_instance, {{ _sql_text(scope_glob) }} as scope_glob,
        {{ _sql_text(service) }} as service, {{ loop.index }} as priority
    {{ "union all" if not loop.last }}
        {%- endfor %}
    {%- else %}
    select null::varchar as source_instance, null::varchar as scope_glob, null::varchar as service,
        null::integer as priority
    where false
    {%- endif %}
{%- endmacro %}

{#
  Joins the rules that apply to each row: the source's own (`own_rules`) and the defaults
  (`default_rules`). Read a rule with deployment_rule('...').
#}
{% macro join_deployment_rules(source_instance_expression) -%}
    left join {{ ref('int_deployment_rules') }} as own_rules
        on own_rules.source_instance = {{ source_instance_expression }}
    inner join {{ ref('int_deployment_rules') }} as default_rules
        on default_rules.source_instance = '*'
{%- endmacro %}

{% macro deployment_rule(name) -%}
    coalesce(own_rules.{{ name }}, default_rules.{{ name }})
{%- endmacro %}

{#
  The regex rule `name` of each configured source as (its sources, the regex as an SQL literal), one pair per
  distinct regex other than the default's, then (none, the default's): what deployment_rule(name) reads, as
  literals. A regex read from a column is compiled again for every row (DuckDB: 0.35 s per 30,300 deployments
  against 0.02 s for a literal; a CI source matches job_pattern against every build), so the models that match
  one pick the literal by source (deployment_rule_regex).
#}
{% macro deployment_rule_patterns(name) -%}
    {%- set default = var('deployment_rule_defaults')[name] | string -%}
    {%- set patterns = [] -%}
    {%- set sources = {} -%}
    {%- for source, rule in (var('deployment_rules', {}) or {}).items() -%}
        {%- set pattern = rule[name] | string -%}
        {%- if pattern != default -%}
            {%- if pattern not in patterns -%}
                {%- do patterns.append(pattern) -%}
                {%- do sources.update({pattern: []}) -%}
            {%- endif -%}
            {%- do sources[pattern].append(_sql_text(source)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set pairs = [] -%}
    {%- for pattern in patterns -%}{%- do pairs.append((sources[pattern], _sql_text(pattern))) -%}{%- endfor -%}
    {%- do pairs.append((none, _sql_text(default))) -%}
    {{ return(pairs) }}
{%- endmacro %}

{# `render` (a macro) applied to each row's regex of rule `name`, as a literal: `render(expression, pattern, *args)`. #}
{% macro deployment_rule_regex(name, render, expression, args=[]) -%}
    {%- set pairs = deployment_rule_patterns(name) -%}
    {%- if pairs | length == 1 -%}
    {{ render(expression, pairs[0][1], *args) }}
    {%- else -%}
    case
        {%- for sources, pattern in pairs if sources %}
        when own_rules.source_instance in ({{ sources | join(', ') }}) then {{ render(expression, pattern, *args) }}
        {%- endfor %}
        else {{ render(expression, pairs[-1][1], *args) }}
    end
    {%- endif -%}
{%- endmacro %}

{# TRUE when `text` matches the rule's regex (case-insensitive); FALSE for NULL text. #}
{% macro matches_deployment_rule(name, text_expression) -%}
    coalesce({{ deployment_rule_regex(name, regex_matches, text_expression, ['i']) }}, false)
{%- endmacro %}

{# The first group of the rule `name`'s regex in `expression` ('' when it does not match, as regex_extract). #}
{% macro extract_deployment_rule(name, expression) -%}
    {{ deployment_rule_regex(name, regex_extract, expression, [1, 'i']) }}
{%- endmacro %}

{# The environment a job/stage name names (first group of environment_pattern), else the default. #}
{% macro environment_from_name(name_expression) -%}
    coalesce(
        nullif(lower({{ extract_deployment_rule('environment_pattern', name_expression) }}), ''),
        {{ deployment_rule('default_environment') }}
    )
{%- endmacro %}

{# TRUE when the branch is allowed by the rule's branch globs (empty list: any branch). #}
{% macro branch_allowed(branch_expression) -%}
    (
        cardinality({{ deployment_rule('branch_globs') }}) = 0
        or {{ glob_matches_any(branch_expression, deployment_rule('branch_globs')) }}
    )
{%- endmacro %}

{#
  The columns is_rollback and is_hotfix: the rule's patterns matched against the deployment's names
  (`text_expression`); a flag the source states itself (`stated_rollback`, `stated_hotfix`) comes first.
#}
{% macro rollback_and_hotfix_flags(text_expression, stated_rollback=none, stated_hotfix=none) -%}
    {%- for flag, stated in [('rollback', stated_rollback), ('hotfix', stated_hotfix)] %}
    {{ "coalesce(" ~ stated ~ ", " if stated }}{{ matches_deployment_rule(flag ~ '_pattern', text_expression) }}{{ ")" if stated }}
        as is_{{ flag }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
  TRUE when the environment is one of the source's production environments (case-insensitive). The one place
  where a deployment is decided to be production: every int_<source>__deployments model calls it (GitLab adds
  its `production` tier). Each source keeps its own `production_environments` rule, so there is no global
  list: the former `production_environments` var and its macro `is_production_environment` had no caller.
#}
{% macro is_production_for_source(environment_expression) -%}
    coalesce({{ array_has_value(deployment_rule('production_environments'), 'lower(' ~ environment_expression ~ ')') }}, false)
{%- endmacro %}

{#
  The service a scope deploys: the first matching `services` glob of the source, else the scope. The alias
  `scope_services` keeps clear of a model's own `services` (PostgreSQL would not see past it to the outer one).
#}
{% macro service_for_scope(source_instance_expression, scope_expression) -%}
    coalesce(
        (
            select scope_services.service
            from {{ ref('int_deployment_services') }} as scope_services
            where scope_services.source_instance in ({{ source_instance_expression }}, '*')
                and {{ glob_matches(scope_expression, 'scope_services.scope_glob') }}
            order by scope_services.source_instance = '*', scope_services.priority
            limit 1
        ),
        {{ scope_expression }}
    )
{%- endmacro %}
