-- Every report of a production deployment mapped to the deployment kept for it: a deployment two sources
-- reported (int_deployments_unioned.duplicate_keys) carries the data attached to each report (GitHub's
-- compare sets, GitLab's shipped merge requests).

with production as (
    select deployment_key, duplicate_keys from {{ ref('int_deployments_unioned') }} where is_production
)

select deployment_key, deployment_key as report_key from production
union all
select deployment_key, unnest(duplicate_keys) as report_key from production
