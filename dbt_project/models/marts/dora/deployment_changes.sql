-- The commits each production deployment shipped (or, failed, attempted), each with its pull request: a
-- commit ships once per repository and environment, with the first successful forward deployment after it
-- entered the compare sets; rollbacks list nothing. Definitions: docs/METRICS.md#deployment-changes.
-- Incremental by commit (macros/deployment_change_increments.sql): the pre-hook deletes every row of the commits
-- a deployment whose rows changed lists, and the run writes the commits the table no longer holds.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook='{{ delete_reshipped_commits() }}',
) }}

with changes as (
    select
        {%- for name, expression in shipped_change_columns() %}
        {{ expression }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    {{ shipped_change_joins() }}
    {%- if is_incremental() %}
    -- every row of a commit or none: which deployment shipped it first is decided over all of them
    where not exists (
        select 1 from {{ this }} as built
        where built.repo is not distinct from changes.repo and built.commit_sha = changes.commit_sha
    )
    {%- endif %}
),

first_shipped as (
    -- the first successful production deployment of each commit, over all production environments
    select distinct on (repo, commit_sha) repo, commit_sha, deployment_key
    from changes
    where deployment_status = 'success'
    order by repo, commit_sha, deployment_finished_at, deployment_key
)

select
    changes.*,
    coalesce(first_shipped.deployment_key = changes.deployment_key, false) as is_first_production_deployment
from changes
left join first_shipped
    on first_shipped.repo = changes.repo
    and first_shipped.commit_sha = changes.commit_sha
