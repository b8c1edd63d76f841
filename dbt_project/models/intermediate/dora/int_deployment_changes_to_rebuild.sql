-- The deployments whose change sets an incremental build of int_deployment_changes deletes and lists again
-- (macros/deployment_change_increments.sql), from the inputs now against the inputs the last build read
-- (int_deployment_change_inputs, read by name: it is built after int_deployment_changes):
--   - per chain, every deployment from the first one whose inputs changed on: a deployment's change set reads
--     only the deployments of its chain up to it, so the earlier ones keep theirs. A new or late deployment,
--     a status or sha changed (the groups after it move), a compare set read late: each changes its inputs;
--   - every deployment gone from the chains (no longer production, merged into another report): its rows go;
--   - the deployments listing a commit that a pull request read since the last build (its row, its commits or
--     its activity; or brought by a shard merged since, raw._merged_reads) matched as built, or matches now
--     (its merge commit, Bitbucket's abbreviated one, one of its commits, or a rebased copy of one).
-- Nothing is listed on a first or full build, or without a previous build to compare: then
-- int_deployment_changes rebuilds every deployment.
{#- the refs of the comparison, which is compiled in only when there is a previous build #}
{%- set compared = ['int_deployment_chains', 'int_deployments_unioned', 'int_deployment_range_commits',
                    'int_deployment_report_keys', 'stg_github__pull_requests', 'stg_github__pull_request_commits',
                    'int_bitbucket__merged_pull_requests', 'stg_bitbucket__pull_requests',
                    'stg_bitbucket__pull_request_commits', 'stg_bitbucket__pull_request_activity'] %}
{%- for model in compared %}
-- depends_on: {{ ref(model) }}
{%- endfor %}

{%- set built_inputs = built_deployment_change_inputs() %}
{%- set built_changes = adapter.get_relation(database=this.database, schema=this.schema,
                                             identifier='int_deployment_changes') if execute else none %}
{%- if built_inputs is not none and built_changes is not none and not flags.FULL_REFRESH %}

with changed_deployments as (
    select coalesce(now.entity_key, built.entity_key) as deployment_key
    from ({{ deployment_change_deployment_inputs() }}) as now
    full outer join (select * from {{ built_inputs }} where kind = 'deployment') as built
        on built.entity_key = now.entity_key
    where now.fingerprint is distinct from built.fingerprint
),

chains as (
    select deployment_key, chain_key, chain_position from {{ ref('int_deployment_chains') }}
),

first_changed as (
    select chains.chain_key, min(chains.chain_position) as first_position
    from chains
    inner join changed_deployments on changed_deployments.deployment_key = chains.deployment_key
    group by chains.chain_key
),

changed_pull_request_ids as (
    -- read since the last build (a source instance the last build read nothing of: all its pull requests)
    {{ reads_after_marks(deployment_change_pull_request_reads(),
                         "select entity_key as source_instance, cast(fingerprint as timestamp) as newest_read from "
                         ~ built_inputs ~ " where kind = 'pull_request_reads'",
                         ['code_host', 'source_instance', 'pull_request_id']) }}
),

changed_pull_requests as (
    select pull_requests.*
    from ({{ deployment_change_merged_pull_requests() }}) as pull_requests
    inner join changed_pull_request_ids as changed
        on changed.code_host = pull_requests.code_host
        and changed.source_instance = pull_requests.source_instance
        and changed.pull_request_id = pull_requests.pull_request_id
),

changed_pull_request_commits as (
    select commits.*
    from ({{ deployment_change_pull_request_commits() }}) as commits
    inner join changed_pull_request_ids as changed
        on changed.code_host = commits.code_host
        and changed.source_instance = commits.source_instance
        and changed.pull_request_id = commits.pull_request_id
)

select chains.deployment_key
from chains
inner join first_changed
    on first_changed.chain_key = chains.chain_key
    and chains.chain_position >= first_changed.first_position
union
select deployment_key from changed_deployments
union
select built.deployment_key
from {{ built_changes }} as built
inner join changed_pull_requests as prs on prs.pull_request_key = built.pull_request_key
{%- for rule in pull_request_match_rules() %}
union
select built.deployment_key
from {{ built_changes }} as built
{{- pull_request_match_joins(rule, 'built', 'changed_pull_requests', 'changed_pull_request_commits') }}
{%- endfor %}
{%- else %}

select cast(null as {{ dbt.type_string() }}) as deployment_key
where false
{%- endif %}
