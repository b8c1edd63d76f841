-- The commits each production deployment shipped (or, failed, attempted), each with its pull request: a
-- commit ships once per repository and environment, with the first successful forward deployment after it
-- entered the compare sets; rollbacks list nothing. Definitions: docs/METRICS.md#deployment-changes.

with changes as (
    select
        changes.*,
        deployments.status as deployment_status,
        deployments.finished_at as deployment_finished_at
    from {{ ref('int_deployment_changes') }} as changes
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = changes.deployment_key
),

first_shipped as (
    -- the first successful production deployment of each commit, over all production environments
    select distinct on (repo, commit_sha) repo, commit_sha, deployment_key
    from changes
    where deployment_status = 'success'
    order by repo, commit_sha, deployment_finished_at, deployment_key
)

select
    changes.deployment_key,
    changes.service,
    coalesce(teams.team, 'unassigned') as team,
    changes.environment,
    changes.deployment_status,
    changes.deployment_finished_at,
    changes.repo,
    changes.commit_sha,
    changes.author,
    changes.authored_at,
    changes.committed_at,
    changes.message_headline,
    changes.pull_request_key,
    changes.pull_request_number,
    changes.pull_request_match,
    coalesce(first_shipped.deployment_key = changes.deployment_key, false) as is_first_production_deployment
from changes
left join first_shipped
    on first_shipped.repo = changes.repo
    and first_shipped.commit_sha = changes.commit_sha
left join {{ ref('int_service_teams') }} as teams on teams.service = changes.service
