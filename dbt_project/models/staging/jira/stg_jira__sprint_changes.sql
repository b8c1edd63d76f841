-- Sprint membership from the changelog: one row per sprint an issue joined or left in one change.
-- A "Sprint" item lists every sprint the issue was in before and after ("38" -> "38, 40" when it was
-- carried over), so joining and leaving are the differences of the two lists.
with changelog_items as (
    -- only histories that mention a sprint are parsed (see the macro)
    {{ jira_changelog_items(containing='Sprint') }}
),

items as (
    select
        source_instance,
        issue_id,
        history_id,
        item_index,
        changed_at,
        author_account_id,
        {{ array_filter(array_map(split_text("coalesce(from_value, '')", "','"), 'trim(element)'), "element <> ''") }}
            as from_sprint_ids,
        {{ array_filter(array_map(split_text("coalesce(to_value, '')", "','"), 'trim(element)'), "element <> ''") }}
            as to_sprint_ids
    from changelog_items
    -- the agile plugin's custom field; Jira names it "Sprint" in changelog items
    where field = 'Sprint' and field_type = 'custom'
),

changes as (
    select
        *,
        {{ array_filter('to_sprint_ids', 'not ' ~ array_has_value('from_sprint_ids', 'element')) }} as added,
        {{ array_filter('from_sprint_ids', 'not ' ~ array_has_value('to_sprint_ids', 'element')) }} as removed
    from items
)

select source_instance, issue_id, history_id, item_index, changed_at, author_account_id,
    unnest(added) as sprint_id, 'added' as change
from changes
union all
select source_instance, issue_id, history_id, item_index, changed_at, author_account_id,
    unnest(removed) as sprint_id, 'removed' as change
from changes
