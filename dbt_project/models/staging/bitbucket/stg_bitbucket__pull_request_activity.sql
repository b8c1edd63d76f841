with source as (
    select * from {{ source('raw', 'bitbucket__pull_request_activity') }}
),

-- Each entry holds one object named after its kind; its time and person sit in different fields per kind.
kinds as (
    select
        *,
        case
            when {{ json_text('payload', 'approval.date') }} is not null then 'approval'
            when {{ json_text('payload', 'comment.id') }} is not null then 'comment'
            when {{ json_text('payload', 'changes_requested.date') }} is not null then 'changes_requested'
            when {{ json_text('payload', 'update.date') }} is not null then 'update'
        end as activity_kind
    from source
)

select
    record_key as activity_id,
    source_instance,
    parent_key as pull_request_id,
    scope as repo,
    activity_kind,
    case activity_kind
        when 'approval' then coalesce({{ json_text('payload', 'approval.user.nickname') }}, {{ json_text('payload', 'approval.user.display_name') }})
        when 'comment' then coalesce({{ json_text('payload', 'comment.user.nickname') }}, {{ json_text('payload', 'comment.user.display_name') }})
        when 'changes_requested' then coalesce({{ json_text('payload', 'changes_requested.user.nickname') }}, {{ json_text('payload', 'changes_requested.user.display_name') }})
        when 'update' then coalesce({{ json_text('payload', 'update.author.nickname') }}, {{ json_text('payload', 'update.author.display_name') }})
    end as actor,
    case activity_kind
        when 'approval' then {{ to_utc_timestamp(json_text('payload', 'approval.date')) }}
        when 'comment' then {{ to_utc_timestamp(json_text('payload', 'comment.created_on')) }}
        when 'changes_requested' then {{ to_utc_timestamp(json_text('payload', 'changes_requested.date')) }}
        when 'update' then {{ to_utc_timestamp(json_text('payload', 'update.date')) }}
    end as occurred_at,
    {{ json_text('payload', 'update.state') }} as update_state,
    coalesce({{ json_text('payload', 'comment.deleted') }} = 'true', false) as is_deleted_comment,
    extracted_at
from kinds
