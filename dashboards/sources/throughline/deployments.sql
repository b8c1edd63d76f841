-- Production deployments one row each, for the items behind a signal (pages/signals/[team].md).
select deployment_key, service, team, environment, status, name, url, finished_at, change_count,
    pull_request_count, is_attempt, is_change_failure, is_rework, recovery_hours
from marts.deployments
