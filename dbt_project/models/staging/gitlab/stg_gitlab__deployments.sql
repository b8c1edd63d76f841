with source as (
    select * from {{ source('raw', 'gitlab__deployments') }}
),

parsed as (
    select
        record_key as deployment_id,
        source_instance,
        scope as project_path,
        ({{ json_text('payload', 'iid') }})::integer as deployment_iid,
        {{ json_text('payload', 'environment.id') }} as environment_id,
        {{ json_text('payload', 'environment.name') }} as environment,
        lower({{ json_text('payload', 'status') }}) as status,
        {{ json_text('payload', 'sha') }} as sha,
        {{ json_text('payload', 'ref') }} as ref,
        {{ json_text('payload', 'user.username') }} as deployer,
        {{ json_text('payload', 'deployable.id') }} as job_id,
        {{ json_text('payload', 'deployable.name') }} as job_name,
        {{ json_text('payload', 'deployable.stage') }} as job_stage,
        lower({{ json_text('payload', 'deployable.status') }}) as job_status,
        {{ json_text('payload', 'deployable.web_url') }} as job_url,
        {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
        -- `finished_at` is on the deployment since GitLab 15.x; older instances only have the job's.
        {{ to_utc_timestamp("coalesce(" ~ json_text('payload', 'finished_at') ~ ", " ~ json_text('payload', 'deployable.finished_at') ~ ")") }}
            as finished_at,
        {{ to_utc_timestamp(json_text('payload', 'deployable.started_at')) }} as job_started_at,
        extracted_at
    from source
)

select
    deployment_id,
    source_instance,
    project_path,
    deployment_iid,
    environment_id,
    environment,
    status,
    sha,
    ref,
    deployer,
    job_id,
    job_name,
    job_stage,
    job_status,
    job_url,
    created_at,
    updated_at,
    finished_at,
    job_started_at,
    extracted_at
-- The raw table holds one row per deployment id; a raw table filled another way (a DevLake export keeps
-- a deployment once per status it was seen in) may hold several: the latest update is the deployment.
from (
    select
        *,
        row_number() over (
            partition by source_instance, deployment_id order by updated_at desc nulls last, extracted_at desc nulls last
        ) as version_rank
    from parsed
) as versions
where version_rank = 1
