with source as (
    select * from {{ source('raw', 'azure_devops__pull_requests') }}
)

-- The repository is named `<project>/<repository>`, as deployment rules and service_teams see it.
select
    record_key as pull_request_id,
    source_instance,
    scope as project,
    {{ json_text('payload', 'repository.project.name') }} || '/' || {{ json_text('payload', 'repository.name') }}
        as repo,
    {{ json_text('payload', 'repository.id') }} as repository_id,
    {{ try_cast(json_text('payload', 'pullRequestId'), 'integer') }} as pull_request_number,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'status') }} as status,
    coalesce({{ json_text('payload', 'createdBy.uniqueName') }}, {{ json_text('payload', 'createdBy.displayName') }})
        as author,
    {{ json_text('payload', 'sourceRefName') }} as source_ref,
    {{ json_text('payload', 'targetRefName') }} as target_ref,
    {{ json_text('payload', 'lastMergeCommit.commitId') }} as merge_commit_sha,
    {{ json_text('payload', 'isDraft') }} = 'true' as is_draft,
    {{ to_utc_timestamp(json_text('payload', 'creationDate')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'closedDate')) }} as closed_at,
    extracted_at
from source
