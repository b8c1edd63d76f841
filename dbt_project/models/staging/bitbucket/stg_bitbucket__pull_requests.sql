with source as (
    select * from {{ source('raw', 'bitbucket__pull_requests') }}
),

-- Cloud (2.0) and Data Center (1.0) pull requests share the raw table; only Data Center's carry `createdDate`
flavoured as (
    select *, {{ json_text('payload', 'createdDate') }} is not null as is_datacenter
    from source
)

select
    record_key as pull_request_id,
    source_instance,
    scope as repo,
    case when is_datacenter then 'datacenter' else 'cloud' end as flavour,
    ({{ json_text('payload', 'id') }})::integer as pull_request_number,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'state') }} as state,
    -- Cloud: the nickname, the closest it has to a login (usernames are gone from the 2.0 API since GDPR);
    -- Data Center: the username
    coalesce({{ json_text('payload', 'author.nickname') }}, {{ json_text('payload', 'author.display_name') }},
             {{ json_text('payload', 'author.user.name') }}) as author,
    {{ json_text('payload', 'author.uuid') }} as author_uuid,
    coalesce({{ json_text('payload', 'source.branch.name') }}, {{ json_text('payload', 'fromRef.displayId') }})
        as source_branch,
    coalesce({{ json_text('payload', 'destination.branch.name') }}, {{ json_text('payload', 'toRef.displayId') }})
        as destination_branch,
    -- Cloud abbreviates it to 12 digits; Data Center gives the full hash
    coalesce({{ json_text('payload', 'merge_commit.hash') }}, {{ json_text('payload', 'properties.mergeCommit.id') }})
        as merge_commit_hash,
    coalesce({{ json_text('payload', 'links.html.href') }}, {{ json_text('payload', 'links.self[0].href') }}) as url,
    case when is_datacenter
        then {{ epoch_ms_to_timestamp("(" ~ json_text('payload', 'createdDate') ~ ")::bigint") }}
        else {{ to_utc_timestamp(json_text('payload', 'created_on')) }}
    end as created_at,
    case when is_datacenter
        then {{ epoch_ms_to_timestamp("(" ~ json_text('payload', 'updatedDate') ~ ")::bigint") }}
        else {{ to_utc_timestamp(json_text('payload', 'updated_on')) }}
    end as updated_at,
    -- Data Center only: when it was merged or declined (Cloud's list carries no close time)
    {{ epoch_ms_to_timestamp("(" ~ json_text('payload', 'closedDate') ~ ")::bigint") }} as closed_at,
    extracted_at
from flavoured
