with source as (
    select * from {{ source('raw', 'azure_devops__builds') }}
)

-- The repository is named `<project>/<repository>`, as on pull requests.
select
    record_key as build_id,
    source_instance,
    scope as project,
    {{ json_text('payload', 'project.name') }} || '/' || {{ json_text('payload', 'repository.name') }} as repo,
    {{ json_text('payload', 'repository.type') }} as repository_type,
    {{ json_text('payload', 'definition.name') }} as definition_name,
    {{ json_text('payload', 'buildNumber') }} as build_number,
    {{ json_text('payload', 'status') }} as status,
    {{ json_text('payload', 'result') }} as result,
    {{ json_text('payload', 'reason') }} as reason,
    {{ json_text('payload', 'sourceVersion') }} as sha,
    {{ json_text('payload', 'sourceBranch') }} as source_branch,
    {{ json_text('payload', '_links.web.href') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'queueTime')) }} as queued_at,
    {{ to_utc_timestamp(json_text('payload', 'startTime')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'finishTime')) }} as finished_at,
    extracted_at
from source
