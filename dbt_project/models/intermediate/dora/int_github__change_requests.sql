-- GitHub pull requests as change requests (int_change_requests): one row per merged pull request and
-- successful production deployment whose change set holds one of its commits (one row with no deployment
-- while none has), with its first commit, first response before the merge by someone other than its
-- author, and merge. Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.
-- Incremental by pull request (macros/change_requests.sql, delete_changed_github_pull_requests): the pre-hook
-- deletes the rows of the pull requests read since the last build, whose shipping deployments changed, or no
-- longer merged; the run writes the merged pull requests the table then lacks. `read_at`, the newest read of a
-- pull request's own rows, is the next run's mark.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook='{{ delete_changed_github_pull_requests() }}',
) }}

with pull_requests as (
    select
        *,
        source_instance || ':' || pull_request_id as pull_request_key
    from {{ ref('stg_github__pull_requests') }} as pull_requests
    where merged_at is not null
    {%- if is_incremental() %}
        and not exists (
            select 1 from {{ this }} as built
            where built.change_request_key = pull_requests.source_instance || ':' || pull_requests.pull_request_id
        )
    {%- endif %}
),

first_commits as (
    -- the PR's own commits only: a PR whose commits were not read has no known first commit
    select source_instance, pull_request_id, min(authored_at) as first_commit_at, max(extracted_at) as read_at
    from {{ ref('stg_github__pull_request_commits') }}
    {%- if is_incremental() %}
    where (source_instance, pull_request_id) in (select source_instance, pull_request_id from pull_requests)
    {%- endif %}
    group by source_instance, pull_request_id
),

responses as (
    -- a review or a comment by someone other than the author; bots do not count as a response
    select source_instance, pull_request_id, reviewer as responder, submitted_at as responded_at,
        state = 'APPROVED' as is_approval, state <> 'PENDING' and submitted_at is not null as is_response,
        extracted_at
    from {{ ref('stg_github__pull_request_reviews') }}
    union all
    select source_instance, pull_request_id, actor, created_at, review_state = 'APPROVED',
        event in ('commented', 'reviewed', 'line-commented', 'commit-commented') and created_at is not null,
        extracted_at
    from {{ ref('stg_github__pull_request_timeline_events') }}
),

first_responses as (
    select
        responses.source_instance,
        responses.pull_request_id,
        min(responses.responded_at) filter (where responses.is_counted) as first_response_at,
        min(responses.responded_at) filter (where responses.is_counted and responses.is_approval) as approved_at,
        max(responses.extracted_at) as read_at
    from (
        select
            responses.*,
            responses.is_response
                and responses.responder is distinct from pull_requests.author
                and not coalesce(responses.responder like '%[bot]', false)
                -- a comment after the merge reviews nothing that could still change: it is not pickup
                and responses.responded_at <= pull_requests.merged_at as is_counted
        from responses
        inner join pull_requests
            on pull_requests.source_instance = responses.source_instance
            and pull_requests.pull_request_id = responses.pull_request_id
    ) as responses
    group by responses.source_instance, responses.pull_request_id
),

deployed as (
{{ deployments_shipping_pull_requests() }}
)

{{ change_request_select('github', extra=[
    'greatest(pull_requests.extracted_at, first_commits.read_at, first_responses.read_at) as read_at']) }}
