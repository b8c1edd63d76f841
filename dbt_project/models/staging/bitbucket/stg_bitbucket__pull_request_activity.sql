with source as (
    select * from {{ source('raw', 'bitbucket__pull_request_activity') }}
),

-- Cloud: each entry holds one object named after its kind, its time and person in different fields per kind.
-- Data Center: each entry is an `action` with `createdDate` (epoch ms) and `user`; APPROVED is an approval,
-- COMMENTED a comment, REVIEWED (needs work) a request for changes, the others updates (OPENED, MERGED,
-- DECLINED and REOPENED set the state; UNAPPROVED and review steps are none of the kinds).
actions as (
    select
        *,
        case {{ json_text('payload', 'action') }}
            when 'APPROVED' then 'approval'
            when 'COMMENTED' then 'comment'
            when 'REVIEWED' then 'changes_requested'
            when 'OPENED' then 'update'
            when 'REOPENED' then 'update'
            when 'MERGED' then 'update'
            when 'DECLINED' then 'update'
            when 'RESCOPED' then 'update'
            when 'UPDATED' then 'update'
        end as datacenter_kind,
        {{ json_text('payload', 'action') }} as datacenter_action
    from source
),

kinds as (
    select
        *,
        case
            when datacenter_action is not null then datacenter_kind
            when {{ json_text('payload', 'approval.date') }} is not null then 'approval'
            when {{ json_text('payload', 'comment.id') }} is not null then 'comment'
            when {{ json_text('payload', 'changes_requested.date') }} is not null then 'changes_requested'
            when {{ json_text('payload', 'update.date') }} is not null then 'update'
        end as activity_kind
    from actions
)

select
    record_key as activity_id,
    source_instance,
    parent_key as pull_request_id,
    scope as repo,
    activity_kind,
    case
        when datacenter_action is not null then {{ json_text('payload', 'user.name') }}
        when activity_kind = 'approval' then coalesce({{ json_text('payload', 'approval.user.nickname') }}, {{ json_text('payload', 'approval.user.display_name') }})
        when activity_kind = 'comment' then coalesce({{ json_text('payload', 'comment.user.nickname') }}, {{ json_text('payload', 'comment.user.display_name') }})
        when activity_kind = 'changes_requested' then coalesce({{ json_text('payload', 'changes_requested.user.nickname') }}, {{ json_text('payload', 'changes_requested.user.display_name') }})
        when activity_kind = 'update' then coalesce({{ json_text('payload', 'update.author.nickname') }}, {{ json_text('payload', 'update.author.display_name') }})
    end as actor,
    case
        when datacenter_action is not null
            then {{ epoch_ms_to_timestamp("(" ~ json_text('payload', 'createdDate') ~ ")::bigint") }}
        when activity_kind = 'approval' then {{ to_utc_timestamp(json_text('payload', 'approval.date')) }}
        when activity_kind = 'comment' then {{ to_utc_timestamp(json_text('payload', 'comment.created_on')) }}
        when activity_kind = 'changes_requested' then {{ to_utc_timestamp(json_text('payload', 'changes_requested.date')) }}
        when activity_kind = 'update' then {{ to_utc_timestamp(json_text('payload', 'update.date')) }}
    end as occurred_at,
    case datacenter_action
        when 'OPENED' then 'OPEN'
        when 'REOPENED' then 'OPEN'
        when 'MERGED' then 'MERGED'
        when 'DECLINED' then 'DECLINED'
        else {{ json_text('payload', 'update.state') }}
    end as update_state,
    -- Data Center's merge names its commit in full (Cloud's pull request carries an abbreviated one)
    case when datacenter_action = 'MERGED' then {{ json_text('payload', 'commit.id') }} end as merge_commit_sha,
    coalesce({{ json_text('payload', 'comment.deleted') }} = 'true', false)
        or coalesce({{ json_text('payload', 'commentAction') }} = 'DELETED', false) as is_deleted_comment,
    extracted_at
from kinds
