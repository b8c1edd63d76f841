with source as (
    select * from {{ source('raw', 'azure_devops__work_item_updates') }}
)

-- One row per work item update (one revision's changes). Its time is the new System.ChangedDate:
-- `revisedDate` is when the revision was superseded (9999-01-01 for the latest), not when it was made.
select
    record_key as update_key,
    source_instance,
    scope as project,
    parent_key as work_item_id,
    {{ try_cast(json_text('payload', 'rev'), 'integer') }} as rev,
    {{ to_utc_timestamp(ado_change('System.ChangedDate', 'newValue')) }} as changed_at,
    {{ ado_change('System.State', 'oldValue') }} as from_state,
    {{ ado_change('System.State', 'newValue') }} as to_state,
    {{ ado_change('System.BoardColumn', 'oldValue') }} as from_board_column,
    {{ ado_change('System.BoardColumn', 'newValue') }} as to_board_column,
    {{ ado_change('System.IterationPath', 'oldValue') }} as from_iteration_path,
    {{ ado_change('System.IterationPath', 'newValue') }} as to_iteration_path,
    {{ ado_change('System.AreaPath', 'newValue') }} as to_area_path,
    {{ ado_change('System.Tags', 'newValue') }} as to_tags,
    {{ json_text('payload', 'revisedBy.uniqueName') }} as revised_by,
    extracted_at
from source
