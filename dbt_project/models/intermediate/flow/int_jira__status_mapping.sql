-- Every status each Jira project can show, with the flow state it resolves to. Keyed per project
-- because the seed may map one status differently in one project.

with known_statuses as (
    select source_instance, status_id from {{ ref('stg_jira__statuses') }} where status_id is not null
    union
    select source_instance, status_id from {{ ref('stg_jira__issues') }} where status_id is not null
),

changes_naming_unknown_statuses as (
    -- A changelog sighting is taken only for a status neither the statuses stream nor an issue names (it
    -- ranks last below), so only the changes naming such a status count: every change naming it is here
    -- (the sighting is exact), and no status known otherwise is aggregated over 10M changes each night.
    select *
    from {{ ref('int_jira__issue_status_changes') }} as changes
    where not exists (
            select 1 from known_statuses as known
            where known.source_instance = changes.source_instance and known.status_id = changes.from_status_id
        )
        or not exists (
            select 1 from known_statuses as known
            where known.source_instance = changes.source_instance and known.status_id = changes.to_status_id
        )
),

status_sightings as (
    -- A status may be known only from issues or the changelog (e.g. deleted since, or the statuses
    -- stream not read yet); take its name and category from the most authoritative sighting.
    select source_instance, status_id, status_name, untranslated_name, status_category_key,
        scope_project_id, 1 as authority, extracted_at as seen_at
    from {{ ref('stg_jira__statuses') }}

    union all

    select source_instance, status_id, status_name, null, status_category_key,
        null, 2, updated_at
    from {{ ref('stg_jira__issues') }}

    union all

    {{ flow_changelog_status_sightings('changes_naming_unknown_statuses') }}
),

latest_sightings as (
    select distinct on (source_instance, status_id) *
    from status_sightings
    where status_id is not null
    order by source_instance, status_id, authority, seen_at desc nulls last, status_name, status_category_key
),

statuses as (
    -- A status known only from the changelog (or in Jira's "No category") has no usable category; a
    -- status of the same name (e.g. a workflow's new "To Do" replacing a deleted one) usually shares it.
    select
        source_instance,
        status_id,
        status_name,
        untranslated_name,
        coalesce(
            nullif(status_category_key, 'undefined'),
            max(nullif(status_category_key, 'undefined')) over (
                partition by source_instance, lower(status_name)
            )
        ) as status_category_key,
        scope_project_id
    from latest_sightings
),

projects as (
    select distinct source_instance, project_key, project_id
    from {{ ref('stg_jira__issues') }}
),

project_statuses as (
    select
        projects.source_instance,
        projects.project_key,
        statuses.status_id,
        statuses.status_name,
        statuses.untranslated_name,
        statuses.status_category_key
    from projects
    inner join statuses
        on statuses.source_instance = projects.source_instance
        -- a team-managed project's statuses belong to that project only
        and (statuses.scope_project_id is null or statuses.scope_project_id = projects.project_id)
),

mapping_rows as (
    select
        source_instance,
        project_key,
        lower(trim(status_name)) as status_name_key,
        flow_state,
        (source_instance <> '*')::integer * 2 + (project_key <> '*')::integer as specificity
    from {{ ref('flow_status_mapping') }}
),

seed_matches as (
    select distinct on (project_statuses.source_instance, project_statuses.project_key, project_statuses.status_id)
        project_statuses.source_instance,
        project_statuses.project_key,
        project_statuses.status_id,
        mapping_rows.flow_state
    from project_statuses
    inner join mapping_rows
        on mapping_rows.source_instance in (project_statuses.source_instance, '*')
        and mapping_rows.project_key in (project_statuses.project_key, '*')
        and mapping_rows.status_name_key in (
            lower(project_statuses.status_name), lower(project_statuses.untranslated_name)
        )
    order by
        project_statuses.source_instance,
        project_statuses.project_key,
        project_statuses.status_id,
        mapping_rows.specificity desc,
        -- equally specific rows for the name and the untranslated name: the displayed name wins
        (mapping_rows.status_name_key = lower(project_statuses.status_name)) desc nulls last,
        mapping_rows.flow_state
)

select
    project_statuses.source_instance,
    project_statuses.project_key,
    project_statuses.status_id,
    project_statuses.status_name,
    project_statuses.status_category_key,
    coalesce(
        seed_matches.flow_state,
        {{ default_flow_state('project_statuses.status_name', 'project_statuses.status_category_key') }}
    ) as flow_state,
    seed_matches.flow_state is not null as is_mapped_by_seed,
    {{ is_blocked_status('project_statuses.status_name') }} as is_blocked_status
from project_statuses
left join seed_matches
    on seed_matches.source_instance = project_statuses.source_instance
    and seed_matches.project_key = project_statuses.project_key
    and seed_matches.status_id = project_statuses.status_id
