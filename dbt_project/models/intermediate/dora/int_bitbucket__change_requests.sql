-- Bitbucket pull requests as change requests (int_change_requests): one row per merged pull request and
-- production environment it shipped to (one row with no deployment while none has), with its first commit,
-- first response before the merge by someone other than its author (a comment, an approval or a request for
-- changes) and merge. Bitbucket's pull request has no merge time: it is the activity's update to MERGED.
-- Bitbucket links no pull request to a deployment and the connector reads no commit graph, so a pull request
-- ships with the first successful production deployment of its repository that started at or after its
-- merge (never a rollback or roll-forward). Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with activity as (
    select * from {{ ref('stg_bitbucket__pull_request_activity') }}
),

merges as (
    select source_instance, pull_request_id, min(occurred_at) as merged_at
    from activity
    where activity_kind = 'update' and update_state = 'MERGED'
    group by source_instance, pull_request_id
),

pull_requests as (
    select
        pull_requests.*,
        pull_requests.source_instance || ':' || pull_requests.repo || '#' || pull_requests.pull_request_id
            as pull_request_key,
        -- the activity's merge, else the last update of a merged pull request whose activity was not read
        coalesce(merges.merged_at, pull_requests.updated_at) as merged_at
    from {{ ref('stg_bitbucket__pull_requests') }} as pull_requests
    left join merges
        on merges.source_instance = pull_requests.source_instance
        and merges.pull_request_id = pull_requests.pull_request_id
    where pull_requests.state = 'MERGED'
),

first_commits as (
    select source_instance, repo, pull_request_id, min(authored_at) as first_commit_at
    from {{ ref('stg_bitbucket__pull_request_commits') }}
    group by source_instance, repo, pull_request_id
),

first_responses as (
    select
        activity.source_instance,
        activity.repo,
        activity.pull_request_id,
        min(activity.occurred_at) as first_response_at,
        min(activity.occurred_at) filter (where activity.activity_kind = 'approval') as approved_at
    from activity
    inner join pull_requests
        on pull_requests.source_instance = activity.source_instance
        and pull_requests.repo = activity.repo
        and pull_requests.pull_request_id = activity.pull_request_id
    where activity.activity_kind in ('approval', 'comment', 'changes_requested')
        and activity.actor is distinct from pull_requests.author
        and activity.occurred_at <= pull_requests.merged_at
    group by activity.source_instance, activity.repo, activity.pull_request_id
),

production_deployments as (
    -- a Bitbucket deployment kept as another source's report of the same deployment ships through that one
    select
        bitbucket.source_instance,
        bitbucket.repo,
        deployments.deployment_key,
        deployments.service,
        deployments.environment,
        coalesce(deployments.started_at, deployments.created_at) as started_at,
        deployments.finished_at
    from {{ ref('stg_bitbucket__deployments') }} as bitbucket
    inner join {{ ref('int_deployment_report_keys') }} as report_keys
        on report_keys.report_key = bitbucket.source_instance || ':' || bitbucket.deployment_id
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

select
    pull_requests.pull_request_key as change_request_key,
    cast('bitbucket' as varchar) as code_host,
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
from pull_requests
left join first_commits
    on first_commits.source_instance = pull_requests.source_instance
    and first_commits.repo = pull_requests.repo
    and first_commits.pull_request_id = pull_requests.pull_request_id
left join first_responses
    on first_responses.source_instance = pull_requests.source_instance
    and first_responses.repo = pull_requests.repo
    and first_responses.pull_request_id = pull_requests.pull_request_id
left join deployed on deployed.pull_request_key = pull_requests.pull_request_key
