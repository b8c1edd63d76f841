-- The commits each production deployment shipped (or, failed, attempted), each with its pull request: a
-- commit ships once per repository and environment, with the first successful forward deployment after it
-- entered the compare sets; rollbacks list nothing. Definitions: docs/METRICS.md#deployment-changes.
-- Incremental by comparison (macros/compared_increments.sql): per deployment, its rows; a changed deployment's
-- commits are written again whole, as the first deployment of a commit is decided over all of its rows.
{{ config(**compared_increment_config(
    'shipped_change_columns()', 'shipped_change_joins()', 'shipped_commit_columns()')) }}

with changes as (
    select {{ compared_columns_select(shipped_change_columns()) }}
    {{ shipped_change_joins() }}
    {%- if is_incremental() %}
    where {{ not_in_built(shipped_change_columns(), shipped_commit_columns()) }}
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
