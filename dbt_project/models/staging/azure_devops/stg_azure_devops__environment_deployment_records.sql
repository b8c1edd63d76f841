with source as (
    select * from {{ source('raw', 'azure_devops__environment_deployment_records') }}
)

-- The record's key is `<environment id>:<record id>` (the connector keys it with its environment).
-- `owner` is the run that deployed: for planType Build, owner.id is the build (pipeline run) id.
select
    record_key as record_key,
    source_instance,
    scope as project,
    parent_key as environment_id,
    {{ json_text('payload', 'id') }} as record_id,
    {{ json_text('payload', 'planType') }} as plan_type,
    {{ json_text('payload', 'owner.id') }} as owner_id,
    {{ json_text('payload', 'owner.name') }} as owner_name,
    {{ json_text('payload', 'definition.name') }} as definition_name,
    {{ json_text('payload', 'stageName') }} as stage_name,
    {{ json_text('payload', 'jobName') }} as job_name,
    {{ json_text('payload', 'result') }} as result,
    {{ to_utc_timestamp(json_text('payload', 'queueTime')) }} as queued_at,
    {{ to_utc_timestamp(json_text('payload', 'startTime')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'finishTime')) }} as finished_at,
    extracted_at
from source
