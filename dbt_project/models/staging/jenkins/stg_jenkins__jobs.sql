with source as (
    select * from {{ source('raw', 'jenkins__jobs') }}
)

select
    record_key as job_full_name,
    source_instance,
    payload ->> '$.name' as job_name,
    coalesce(payload ->> '$.displayName', payload ->> '$.name') as display_name,
    payload ->> '$._class' as job_class,
    -- Containers hold jobs and have no builds: folders, organization folders, multibranch projects.
    payload ->> '$._class' in (
        'com.cloudbees.hudson.plugins.folder.Folder',
        'jenkins.branch.OrganizationFolder',
        'org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject'
    ) as is_folder,
    scope as parent_folder,
    payload ->> '$.url' as url,
    payload ->> '$.color' as color,
    (payload ->> '$.lastBuild.number')::bigint as last_build_number,
    extracted_at
from source
