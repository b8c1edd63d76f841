-- Bitbucket pull requests as change requests (int_change_requests): one row per merged pull request and
-- production environment it shipped to (one row with no deployment while none has), with its first commit,
-- first response before the merge by someone other than its author (a comment, an approval or a request for
-- changes) and merge. Bitbucket's pull request has no merge time: it is the activity's update to MERGED.
-- Bitbucket links no pull request to a deployment: a pull request ships with the deployments whose commit
-- range (int_deployment_changes: the commits between the previous deployment to the environment and this
-- one) holds its merge commit or one of its commits. A deployment whose range could not be read (the
-- connector recorded it gone, or it is still owed) links nothing: for those repositories and environments
-- a pull request not linked by a range falls back to the first successful production deployment of its
-- repository that started at or after its merge (never a rollback or roll-forward). Bitbucket Data Center
-- has neither deployments nor their commit ranges: its pull requests ship with the first successful
-- production deployment of an events source that names their repository (`repo`: `PROJECT/slug`) and started
-- at or after the merge (never a rollback or roll-forward), in each production environment.
-- Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with activity as (
    select * from {{ ref('stg_bitbucket__pull_request_activity') }}
),

pull_requests as (
    select * from {{ ref('int_bitbucket__merged_pull_requests') }}
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

{{ first_deployments_after_merge('stg_bitbucket__deployments') }},

ranged as (
    -- the successful deployments whose range holds one of the pull request's commits
{{ deployments_shipping_pull_requests() }}
),

unranged_deployments as (
    -- deployments with no range commits under any of their reports: the range could not be read (the
    -- hash is gone, or the read is still owed)
    select report_keys.deployment_key
    from {{ ref('int_deployment_report_keys') }} as report_keys
    left join {{ ref('int_deployment_range_commits') }} as commits
        on commits.source_instance || ':' || commits.deployment_id = report_keys.report_key
    group by report_keys.deployment_key
    having count(commits.commit_sha) = 0
),

events_deployed as (
    select distinct on (pull_requests.pull_request_key, lower(deployments.environment))
        pull_requests.pull_request_key,
        deployments.deployment_key,
        deployments.service,
        deployments.environment,
        deployments.finished_at
    from pull_requests
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.repo = pull_requests.repo
    inner join {{ ref('int_deployment_chains') }} as chains on chains.deployment_key = deployments.deployment_key
    where pull_requests.flavour = 'datacenter'
        and deployments.source = 'events'
        and deployments.is_production
        and deployments.status = 'success'
        and not chains.is_repeat
        and coalesce(deployments.started_at, deployments.created_at) >= pull_requests.merged_at
    order by pull_requests.pull_request_key, lower(deployments.environment),
        coalesce(deployments.started_at, deployments.created_at), deployments.deployment_key
),

linked as (
    select * from ranged
    union all
    select * from events_deployed
    union all
    -- the fallback: in an environment where no range links the pull request, the first successful
    -- production deployment after its merge, when that deployment's range is missing
    select deployed.*
    from deployed
    inner join unranged_deployments on unranged_deployments.deployment_key = deployed.deployment_key
    where not exists (
        select 1 from ranged
        where ranged.pull_request_key = deployed.pull_request_key
            and lower(ranged.environment) = lower(deployed.environment)
    )
)

{{ change_request_select('bitbucket', keys=['source_instance', 'repo', 'pull_request_id'], deployed='linked') }}
