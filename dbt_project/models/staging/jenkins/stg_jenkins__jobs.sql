with source as (
    select * from {{ source('raw', 'jenkins__jobs') }}
)

select
    record_key as job_full_name,
    source_instance,
    {{ json_text('payload', 'name') }} as job_name,
    coalesce({{ json_text('payload', 'displayName') }}, {{ json_text('payload', 'name') }}) as display_name,
    {{ json_text('payload', '_class') }} as job_class,
    -- Containers hold jobs and have no builds: folders, organization folders, multibranch projects.
    {{ json_text('payload', '_class') }} in (
        'com.cloudbees.hudson.plugins.folder.Folder',
        'jenkins.branch.OrganizationFolder',
        'org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject'
    ) as is_folder,
    scope as parent_folder,
    {{ json_text('payload', 'url') }} as url,
    {{ json_text('payload', 'color') }} as color,
    ({{ json_text('payload', 'lastBuild.number') }})::bigint as last_build_number,
    extracted_at
from source
