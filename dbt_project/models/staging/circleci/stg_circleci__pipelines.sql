with source as (
    select * from {{ source('raw', 'circleci__pipelines') }}
),

renamed as (
    select
        record_key as pipeline_id,
        source_instance,
        coalesce(scope, {{ json_text('payload', 'project_slug') }}) as project_slug,
        ({{ json_text('payload', 'number') }})::bigint as pipeline_number,
        {{ json_text('payload', 'state') }} as state,
        {{ json_text('payload', 'trigger.type') }} as trigger_type,
        nullif({{ json_text('payload', 'trigger.actor.login') }}, '') as actor,
        -- Pipelines that failed before reading their config (state `errored`) carry no `vcs`, only the
        -- checkout sha among the trigger parameters.
        coalesce(
            nullif({{ json_text('payload', 'vcs.revision') }}, ''), nullif({{ json_text('payload', 'trigger_parameters.git.checkout_sha') }}, '')
        ) as revision,
        coalesce(
            nullif({{ json_text('payload', 'vcs.branch') }}, ''), nullif({{ json_text('payload', 'trigger_parameters.git.branch') }}, '')
        ) as branch,
        nullif({{ json_text('payload', 'vcs.tag') }}, '') as tag,
        -- Both quantifiers of the group are lazy: PostgreSQL gives a group the greediness of its first one.
        nullif({{ regex_extract(json_text('payload', 'vcs.origin_repository_url'), "'([^/:]+?/[^/]+?)(\.git)?/?$'", 1) }}, '') as vcs_repo,
        {{ json_text('payload', 'vcs.commit.subject') }} as commit_subject,
        coalesce({{ json_array_count(json_get('payload', 'errors')) }}, 0)::integer as error_count,
        {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
        extracted_at
    from source
)

select
    pipeline_id,
    source_instance,
    project_slug,
    -- `gh/acme/checkout` builds acme/checkout: the repository, named as GitHub and GitLab sources name it.
    coalesce(vcs_repo, {{ regex_extract('project_slug', "'^[^/]+/(.+)$'", 1) }}) as repo,
    pipeline_number,
    state,
    trigger_type,
    actor,
    revision,
    branch,
    tag,
    commit_subject,
    error_count,
    created_at,
    updated_at,
    extracted_at
from renamed
