-- Every service the DORA marts know (from deployments, incidents and change requests: a repository that never
-- deploys, such as a library, is its pull requests' service) with the team that owns it: the longest matching
-- `service_pattern` of the seed service_teams, else `unassigned`.

with services as (
    select distinct service from {{ ref('int_deployments_unioned') }} where service is not null
    union
    select distinct service from {{ ref('int_incidents_unioned') }} where service is not null
    union
    select distinct service from {{ ref('int_change_requests') }}
)

select
    services.service,
    coalesce(
        (
            select mapping.team
            from {{ ref('service_teams') }} as mapping
            where {{ glob_matches('services.service', 'mapping.service_pattern') }}
            order by length(mapping.service_pattern) desc, mapping.service_pattern
            limit 1
        ),
        'unassigned'
    ) as team
from services
