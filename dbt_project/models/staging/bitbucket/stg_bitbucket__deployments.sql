with source as (
    select * from {{ source('raw', 'bitbucket__deployments') }}
)

select
    record_key as deployment_id,
    source_instance,
    scope as repo,
    -- the deployment names its environment by uuid only
    {{ json_text('payload', 'environment.uuid') }} as environment_id,
    -- UNDEPLOYED, IN_PROGRESS or COMPLETED; a completed one's status is SUCCESSFUL, FAILED or STOPPED
    {{ json_text('payload', 'state.name') }} as state,
    {{ json_text('payload', 'state.status.name') }} as state_status,
    {{ json_text('payload', 'release.commit.hash') }} as sha,
    {{ json_text('payload', 'release.name') }} as release_name,
    {{ json_text('payload', 'release.url') }} as url,
    {{ json_text('payload', 'deployable.pipeline.uuid') }} as pipeline_id,
    {{ to_utc_timestamp(json_text('payload', 'release.created_on')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'state.started_on')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'state.completed_on')) }} as completed_at,
    {{ to_utc_timestamp(json_text('payload', 'last_update_time')) }} as updated_at,
    extracted_at
from source
