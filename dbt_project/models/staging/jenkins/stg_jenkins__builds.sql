with source as (
    select * from {{ source('raw', 'jenkins__builds') }}
),

parsed as (
    select
        record_key as build_id,
        source_instance,
        coalesce(scope, parent_key) as job_full_name,
        ({{ json_text('payload', 'number') }})::bigint as build_number,
        {{ json_text('payload', '_class') }} as build_class,
        {{ json_text('payload', 'fullDisplayName') }} as full_display_name,
        upper({{ json_text('payload', 'result') }}) as result,
        -- A build has no result until it ends; recorded data also holds `building: true` with a result.
        coalesce(({{ json_text('payload', 'building') }})::boolean, false) or {{ json_text('payload', 'result') }} is null as is_running,
        ({{ json_text('payload', 'timestamp') }})::bigint as started_ms,
        ({{ json_text('payload', 'duration') }})::bigint as duration_ms,
        -- The git plugin's BuildData action; a pipeline that also checks out a shared library has several,
        -- the job's own checkout first.
        {{ json_wildcard_first_text('payload', 'actions', 'lastBuiltRevision.SHA1') }} as sha,
        {{ json_wildcard_first_text('payload', 'actions', 'lastBuiltRevision.branch[0].name') }} as revision_branch,
        {{ json_wildcard_first_text('payload', 'actions', 'remoteUrls[0]') }} as remote_url,
        {{ json_wildcard_first_text('payload', 'actions', 'causes[0].shortDescription') }} as cause,
        extracted_at
    from source
)

select
    build_id,
    source_instance,
    job_full_name,
    build_number,
    build_class,
    build_class = 'org.jenkinsci.plugins.workflow.job.WorkflowRun' as is_pipeline,
    full_display_name,
    result,
    is_running,
    {{ epoch_ms_to_timestamp('started_ms') }} as started_at,
    case when not is_running then {{ epoch_ms_to_timestamp('started_ms + duration_ms') }} end as finished_at,
    case when not is_running then duration_ms::float8 / 3600000 end as duration_hours,
    sha,
    -- The git plugin names a freestyle checkout's branch `refs/remotes/origin/main`; multibranch jobs `main`.
    {{ regex_replace('revision_branch', "'^(refs/remotes/[^/]+/|refs/heads/|origin/)'", "''", flags='') }} as branch,
    remote_url,
    -- owner/name of the remote (https://host/owner/name.git or git@host:owner/name.git).
    -- Both quantifiers of the group are lazy: PostgreSQL gives a group the greediness of its first one.
    nullif({{ regex_extract('remote_url', "'[:/]([^/:]+?/[^/]+?)(\.git)?/?$'", 1) }}, '') as repo,
    cause,
    extracted_at
from parsed
