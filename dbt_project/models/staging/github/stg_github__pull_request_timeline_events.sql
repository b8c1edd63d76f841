-- A table incremental by read (macros/staging_increments.sql): several models read it every night.
{{ staging_increment_config(['source_instance', 'timeline_event_id']) }}
with source as (
    {{ staging_rows(source('raw', 'github__pull_request_timeline_events'), 'timeline_event_id') }}
)

select
    record_key as timeline_event_id,
    parent_key as pull_request_id,
    -- record_key is `<PR id>:<event id>`: the event's own id, a review, comment or issue-event id.
    split_part(record_key, ':', 2) as event_id,
    source_instance,
    scope as repo,
    {{ json_text('payload', 'event') }} as event,
    -- A `reviewed` event is the review itself: it has `user` and `submitted_at` but no `actor` or `created_at`.
    coalesce({{ json_text('payload', 'actor.login') }}, {{ json_text('payload', 'user.login') }}) as actor,
    {{ to_utc_timestamp("coalesce(" ~ json_text('payload', 'created_at') ~ ", " ~ json_text('payload', 'submitted_at') ~ ")") }} as created_at,
    -- A review is requested from a user or from a team; the other one is NULL.
    {{ json_text('payload', 'requested_reviewer.login') }} as requested_reviewer,
    {{ json_text('payload', 'requested_team.slug') }} as requested_team,
    -- Only on `reviewed`; the timeline writes it in lower case, the reviews endpoint in upper case.
    upper({{ json_text('payload', 'state') }}) as review_state,
    extracted_at,
    {{ staging_version() }} as staging_version
from source
