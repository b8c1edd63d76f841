with source as (
    select * from {{ source('raw', 'azure_devops__work_items') }}
)

-- Rename and cast only; int_azure_devops__work_items shapes it like a Jira issue. The parent is the
-- System.Parent field, else the Hierarchy-Reverse relation (the link Azure DevOps names "Parent").
select
    record_key as work_item_id,
    source_instance,
    scope as project,
    {{ ado_field('System.TeamProject') }} as team_project,
    {{ ado_field('System.WorkItemType') }} as work_item_type,
    {{ ado_field('System.Title') }} as title,
    {{ ado_field('System.State') }} as state,
    {{ ado_field('System.Reason') }} as reason,
    {{ ado_field('System.BoardColumn') }} as board_column,
    {{ ado_field('System.AreaPath') }} as area_path,
    {{ ado_field('System.IterationPath') }} as iteration_path,
    {{ distinct_texts(array_map(split_text(ado_field('System.Tags'), "';'"), 'trim(element)')) }} as tags,
    {{ try_cast(ado_field('Microsoft.VSTS.Scheduling.StoryPoints'), 'double') }} as story_points,
    {{ try_cast(ado_field('Microsoft.VSTS.Common.Priority'), 'integer') }} as priority,
    -- a portfolio item's planned date (Agile and Scrum processes), written as a UTC midnight
    ({{ to_utc_timestamp(ado_field('Microsoft.VSTS.Scheduling.TargetDate')) }})::date as target_date,
    coalesce(
        {{ ado_field('System.Parent') }},
        {{ regex_extract(json_text('payload', 'relations'), "'Hierarchy-Reverse\\W+url\\W+\\S*?/workItems/(\\d+)'", 1) }}
    ) as parent_work_item_id,
    {{ try_cast(json_text('payload', 'rev'), 'integer') }} as rev,
    {{ json_text('payload', '_links.html.href') }} as url,
    {{ to_utc_timestamp(ado_field('System.CreatedDate')) }} as created_at,
    {{ to_utc_timestamp(ado_field('System.ChangedDate')) }} as changed_at,
    extracted_at
from source
