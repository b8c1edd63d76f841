{#
  For a code host whose deployments name no pull request and whose commit graph is not read (Azure DevOps; on
  Bitbucket, the fallback where a deployment's commit range is missing): the CTEs `production_deployments` (the host's successful production deployments as kept in
  int_deployments_unioned, a report deduplicated into another source's counting as that one, repeats left out)
  and `deployed` (per pull request of the CTE `pull_requests` and production environment, the first of them of
  the pull request's repository that started at or after its `merged_at`). `host_deployments` is a model with
  source_instance, repo and deployment_id per deployment of the host.
#}
{% macro first_deployments_after_merge(host_deployments) -%}
production_deployments as (
    -- a deployment kept as another source's report of the same deployment ships through that one
    select
        host.source_instance,
        host.repo,
        deployments.deployment_key,
        deployments.service,
        deployments.environment,
        coalesce(deployments.started_at, deployments.created_at) as started_at,
        deployments.finished_at
    from {{ ref(host_deployments) }} as host
    inner join {{ ref('int_deployment_report_keys') }} as report_keys
        on report_keys.report_key = host.source_instance || ':' || host.deployment_id
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = report_keys.deployment_key
    inner join {{ ref('int_deployment_chains') }} as chains on chains.deployment_key = deployments.deployment_key
    where deployments.status = 'success' and not chains.is_repeat
),

deployed as (
    -- the first such deployment per production environment
    select distinct on (pull_requests.pull_request_key, lower(production_deployments.environment))
        pull_requests.pull_request_key,
        production_deployments.deployment_key,
        production_deployments.service,
        production_deployments.environment,
        production_deployments.finished_at
    from pull_requests
    inner join production_deployments
        on production_deployments.source_instance = pull_requests.source_instance
        and production_deployments.repo = pull_requests.repo
        and production_deployments.started_at >= pull_requests.merged_at
    order by pull_requests.pull_request_key, lower(production_deployments.environment),
        production_deployments.started_at, production_deployments.deployment_key
)
{%- endmacro %}


{#
  For a code host whose deployments' commits are read (GitHub's compare sets, Bitbucket's commit ranges): the
  body of a CTE `deployed` with, per merged pull request, the successful production deployments whose change
  set (int_deployment_changes) holds one of its commits.
#}
{% macro deployments_shipping_pull_requests() -%}
    select distinct
        changes.pull_request_key,
        changes.deployment_key,
        changes.service,
        changes.environment,
        deployments.finished_at
    from {{ ref('int_deployment_changes') }} as changes
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = changes.deployment_key
    where changes.pull_request_key is not null and deployments.status = 'success'
{%- endmacro %}


{#
  The final select of a code host's change-request model in the int_change_requests contract, from its CTEs
  `pull_requests` (source_instance, repo, pull_request_key, pull_request_number, title, author, created_at,
  merged_at), `first_commits` (first_commit_at), `first_responses` (first_response_at, approved_at), each of
  these two keyed by `keys` as the pull requests are, and `deployed` (pull_request_key, deployment_key,
  finished_at, environment, service; `deployed` names the CTE): one list, so the hosts cannot drift apart.
  `extra`: more columns of the host's own (`<expression> as <name>`), after the contract's.
#}
{% macro change_request_select(code_host, keys=['source_instance', 'pull_request_id'], deployed='deployed',
                               extra=[]) -%}
select
    pull_requests.pull_request_key as change_request_key,
    cast('{{ code_host }}' as varchar) as code_host,
    pull_requests.source_instance,
    pull_requests.repo,
    pull_requests.pull_request_number as change_request_number,
    pull_requests.title,
    pull_requests.author,
    first_commits.first_commit_at,
    pull_requests.created_at as opened_at,
    first_responses.first_response_at,
    first_responses.approved_at,
    pull_requests.merged_at,
    deployed.deployment_key,
    deployed.finished_at as deployed_at,
    deployed.environment as deployment_environment,
    deployed.service as deployment_service
    {%- for column in extra %},
    {{ column }}
    {%- endfor %}
from pull_requests
{%- for cte in ['first_commits', 'first_responses'] %}
left join {{ cte }}
    on {% for key in keys %}{{ cte }}.{{ key }} = pull_requests.{{ key }}{% if not loop.last %}
    and {% endif %}{% endfor %}
{%- endfor %}
left join {{ deployed }}{% if deployed != 'deployed' %} as deployed{% endif %} on deployed.pull_request_key = pull_requests.pull_request_key
{%- endmacro %}


{#- pull_request_cycle_times, incremental by comparison (macros/compared_increments.sql): per change request, its
    row as int_change_requests and the service's team give it; the stage hours are computed from these. -#}
{% macro pull_request_cycle_columns() -%}
    {{ return([
        ('pull_request_key', 'change_requests.change_request_key'),
        ('source_instance', 'change_requests.source_instance'), ('code_host', 'change_requests.code_host'),
        ('repo', 'change_requests.repo'), ('pull_request_number', 'change_requests.change_request_number'),
        ('title', 'change_requests.title'), ('author', 'change_requests.author'),
        ('service', 'change_requests.service'), ('team', "coalesce(teams.team, 'unassigned')"),
        ('first_commit_at', 'change_requests.first_commit_at'), ('opened_at', 'change_requests.opened_at'),
        ('first_response_at', 'change_requests.first_response_at'), ('approved_at', 'change_requests.approved_at'),
        ('merged_at', 'change_requests.merged_at'), ('first_deployed_at', 'change_requests.first_deployed_at'),
        ('first_deployment_key', 'change_requests.first_deployment_key'),
        ('first_deployment_environment', 'change_requests.first_deployment_environment'),
        ('production_environment_count', 'change_requests.production_environment_count'),
    ]) }}
{%- endmacro %}

{% macro pull_request_cycle_inputs() -%}
    from {{ ref('int_change_requests') }} as change_requests
    left join {{ ref('int_service_teams') }} as teams on teams.service = change_requests.service
{%- endmacro %}


{#- int_github__change_requests incremental by pull request: a run deletes the rows of the pull requests read since
    its last build (the pull request, its commits, reviews or timeline events: after the newest read its rows
    hold, `read_at`, per source instance, or brought by a shard merged since), of those whose shipping
    deployments changed (a digest per pull request of the deployments, their finish, environment and service, as
    built and now), and of those no longer merged pull requests; then writes the merged pull requests it no
    longer holds. -#}
{% macro github_pull_request_reads() -%}
    {%- for model in ['stg_github__pull_requests', 'stg_github__pull_request_commits',
                      'stg_github__pull_request_reviews', 'stg_github__pull_request_timeline_events'] %}
    select source_instance, pull_request_id, extracted_at from {{ ref(model) }}
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro delete_changed_github_pull_requests() -%}
    {%- if is_incremental() and 'read_at' not in (adapter.get_columns_in_relation(this) | map(attribute='name')) -%}
    {#- built before its marks were kept (an upgrade): every pull request is written again -#}
    delete from {{ this }}
    {%- elif is_incremental() -%}
    {%- set shipped = [('change_request_key', 'deployed.pull_request_key'),
                       ('deployment_key', 'deployed.deployment_key'), ('deployed_at', 'deployed.finished_at'),
                       ('deployment_environment', 'deployed.environment'),
                       ('deployment_service', 'deployed.service')] -%}
    delete from {{ this }} as built
    where built.change_request_key in (
        select reread.source_instance || ':' || reread.pull_request_id
        from ({{ reads_after_marks(github_pull_request_reads(),
                                   'select source_instance, max(read_at) as newest_read from ' ~ this
                                   ~ ' group by source_instance',
                                   ['source_instance', 'pull_request_id']) }}) as reread
        union all
        select group_key from ({{ changed_groups(shipped, 'from (' ~ deployments_shipping_pull_requests()
                                                 ~ ') as deployed', 'deployment_key is not null') }}) as reshipped
        union all
        select kept.change_request_key
        from {{ this }} as kept
        where not exists (
            select 1 from {{ ref('stg_github__pull_requests') }} as pull_requests
            where pull_requests.merged_at is not null
                and pull_requests.source_instance || ':' || pull_requests.pull_request_id = kept.change_request_key
        )
    )
    {%- endif -%}
{%- endmacro %}
