with source as (
    select * from {{ source('raw', 'azure_devops__pull_request_threads') }}
)

-- One row per thread. A vote is a system thread (CodeReviewThreadType VoteUpdate) whose
-- CodeReviewVoteResult is the vote (10 approved, 5 approved with suggestions, -5 waiting for the author,
-- -10 rejected) and whose voter is the identity CodeReviewVotedByIdentity names; any other thread's actor is
-- the author of its first comment.
select
    record_key as thread_key,
    source_instance,
    scope as project,
    parent_key as pull_request_id,
    {{ json_text_at_key('payload', 'properties.CodeReviewThreadType', "'$value'") }} as thread_type,
    {{ try_cast(json_text_at_key('payload', 'properties.CodeReviewVoteResult', "'$value'"), 'integer') }} as vote,
    coalesce(
        {{ json_text(json_get_at_key('payload', 'identities',
            json_text_at_key('payload', 'properties.CodeReviewVotedByIdentity', "'$value'")), 'uniqueName') }},
        {{ json_wildcard_first_text('payload', 'comments', 'author.uniqueName') }}
    ) as actor,
    {{ json_wildcard_first_text('payload', 'comments', 'commentType') }} as comment_type,
    {{ json_text('payload', 'isDeleted') }} = 'true' as is_deleted,
    {{ to_utc_timestamp(json_text('payload', 'publishedDate')) }} as published_at,
    extracted_at
from source
