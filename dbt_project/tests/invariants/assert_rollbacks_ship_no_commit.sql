-- A rollback puts back a version that was live before: it ships no new change, neither in its count nor
-- in the commits listed for it (docs/METRICS.md#deployment-changes). Returns the offending rollbacks.
{%- set deployments = ref('deployments') -%}
{%- set changes = ref('deployment_changes') -%}
{%- if invariant_parents_built([deployments, changes]) %}
select
    deployments.deployment_key,
    deployments.change_count,
    count(changes.commit_sha) as commits_listed
from {{ deployments }} as deployments
left join {{ changes }} as changes
    on changes.deployment_key = deployments.deployment_key
where deployments.is_rollback
group by deployments.deployment_key, deployments.change_count
having deployments.change_count > 0 or count(changes.commit_sha) > 0
{%- else %}
{{ invariant_nothing_to_check(['deployment_key', 'change_count', 'commits_listed']) }}
{%- endif %}
