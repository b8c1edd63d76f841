-- One row per deployment from every deployment source, in one shape (int_github__deployments is the
-- template: same columns, same meanings). A deployment reported by two sources (the same service,
-- environment and sha, started within `deployment_duplicate_window_minutes`) is kept once.

{% set deployment_models = [
    'int_github__deployments',
    'int_events__deployments',
    'int_gitlab__deployments',
    'int_jenkins__deployments',
    'int_circleci__deployments',
    'int_bitbucket__deployments',
    'int_azure_devops__deployments',
] %}
{# <deployment sources: add each int_<source>__deployments model to the list above> #}
{% set columns = [
    'source', 'source_instance', 'deployment_id', 'service', 'repo', 'environment', 'is_production', 'status',
    'source_status', 'sha', 'ref', 'name', 'url', 'is_rollback', 'is_hotfix', 'created_at', 'started_at',
    'finished_at',
] %}

with unioned as (
    {%- for model in deployment_models %}
    select {{ columns | join(', ') }} from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

ranked as (
    select
        *,
        source_instance || ':' || deployment_id as deployment_key,
        -- Which report of a duplicated deployment is kept: one with a final outcome, then GitHub's (its
        -- compare data gives the change set), then the earliest start.
        array[
            (status not in ('success', 'failure'))::integer,
            (source <> 'github')::integer
        ] as preference,
        coalesce(started_at, created_at) as reported_start_at
    from unioned
),

{%- set better_key = ordering_key([
    ('preference', 'better.preference'),
    ('reported_start_at', 'better.reported_start_at'),
    ('deployment_key', 'better.deployment_key'),
]) -%}
{%- set worse_key = ordering_key([
    ('preference', 'worse.preference'),
    ('reported_start_at', 'worse.reported_start_at'),
    ('deployment_key', 'worse.deployment_key'),
]) %}
duplicates as (
    -- Each report paired with the best other-source report of the same deployment that it yields to.
    select
        worse.deployment_key,
        {{ arg_min('better.deployment_key', better_key) }} as kept_as
    from ranked as worse
    inner join ranked as better
        on better.source_instance <> worse.source_instance
        and better.service = worse.service
        and lower(better.environment) = lower(worse.environment)
        and better.sha = worse.sha
        and abs({{ seconds_between('better.reported_start_at', 'worse.reported_start_at') }})
            <= {{ dora_setting('deployment_duplicate_window_minutes') }} * 60
        and {{ better_key }} < {{ worse_key }}
    group by worse.deployment_key
),

merged as (
    select kept_as as deployment_key, {{ array_of('deployment_key', 'deployment_key') }} as duplicate_keys
    from duplicates
    group by kept_as
)

select
    ranked.deployment_key,
    ranked.source,
    ranked.source_instance,
    ranked.deployment_id,
    ranked.service,
    ranked.repo,
    ranked.environment,
    ranked.is_production,
    ranked.status,
    ranked.source_status,
    ranked.sha,
    ranked.ref,
    ranked.name,
    ranked.url,
    coalesce(ranked.is_rollback, false) as is_rollback,
    coalesce(ranked.is_hotfix, false) as is_hotfix,
    ranked.created_at,
    ranked.started_at,
    ranked.finished_at,
    coalesce(merged.duplicate_keys, array[]::varchar[]) as duplicate_keys
from ranked
left join merged on merged.deployment_key = ranked.deployment_key
where ranked.deployment_key not in (select deployment_key from duplicates)
