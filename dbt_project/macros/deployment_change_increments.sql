{#- int_deployment_changes incremental by deployment (docs/OPERATIONS.md#models-incremental-by-key).

    A deployment's change set is read from the deployments of its chain at or before it (int_deployment_chains:
    the compare sets, which deployment first held each commit, the forward successes before it) and from the
    pull requests its commits match. So a run rebuilds, per chain, every deployment from the first one whose
    inputs changed on (a new or late deployment shifts the later ones; a status or sha changed moves their
    groups), and the deployments listing a commit a changed pull request matches. The inputs as the last build
    saw them are int_deployment_change_inputs, built after int_deployment_changes: one row per production
    deployment with a fingerprint of everything the change sets read from it, and per code host source instance
    the newest read of its pull requests (a pull request read since changed). int_deployment_changes_to_rebuild
    compares them with the inputs now. -#}

{#- The merged pull requests of the code hosts whose commits int_deployment_changes matches, keyed as each host's
    change requests are (int_change_requests). -#}
{% macro deployment_change_merged_pull_requests() -%}
    select
        'github' as code_host,
        source_instance,
        repo,
        source_instance || ':' || pull_request_id as pull_request_key,
        pull_request_id,
        pull_request_number,
        merge_commit_sha,
        merged_at
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
    union all
    select
        'bitbucket', source_instance, repo, pull_request_key, pull_request_id, pull_request_number,
        -- abbreviated to 12 digits, as Bitbucket writes it
        merge_commit_hash,
        merged_at
    from {{ ref('int_bitbucket__merged_pull_requests') }}
{%- endmacro %}

{#- How a commit of a change set is matched with a merged pull request, best rank first (int_deployment_changes
    keeps the best candidate; int_deployment_changes_to_rebuild finds the rows a changed pull request can match):
    squash and merge-commit merges by the merge commit (Bitbucket abbreviates it to 12 digits), merge-commit
    merges by the pull request's own commits on the branch, rebase merges by a commit with the same author name,
    author date and message (a rebase rewrites every sha). `commits`: whether the rule reads the pull requests'
    commits. -#}
{% macro pull_request_match_rules() -%}
    {{ return([
        {'match': 'merge_commit', 'rank': 1, 'commits': false,
         'on': 'prs.merge_commit_sha = {row}.commit_sha'},
        {'match': 'merge_commit', 'rank': 1, 'commits': false,
         'on': "prs.code_host = 'bitbucket' and length(prs.merge_commit_sha) = 12"
               ~ ' and prs.merge_commit_sha = left({row}.commit_sha, 12)'},
        {'match': 'pull_request_commit', 'rank': 2, 'commits': true,
         'on': 'commits.commit_sha = {row}.commit_sha'},
        {'match': 'rebased_commit', 'rank': 3, 'commits': true,
         'on': 'commits.author_name = {row}.author_name and commits.authored_at = {row}.authored_at'
               ~ ' and commits.message_headline = {row}.message_headline and commits.commit_sha <> {row}.commit_sha'},
    ]) }}
{%- endmacro %}

{#- The joins of `rule` from the change set rows `row` (an alias with code_host_instance, repo and the commit's
    columns) to `prs` (merged pull requests, as deployment_change_merged_pull_requests) and, for a rule on
    commits, `commits` (as deployment_change_pull_request_commits), aliased prs and commits. The commits are
    joined first: a few change sets then pick theirs out of every pull request's commits. -#}
{% macro pull_request_match_joins(rule, row, prs, commits) -%}
    {%- if rule.commits %}
    inner join {{ commits }} as commits
        on commits.source_instance = {{ row }}.code_host_instance
        and {{ rule.on | replace('{row}', row) }}
    inner join {{ prs }} as prs
        on prs.code_host = commits.code_host
        and prs.source_instance = commits.source_instance
        and prs.pull_request_id = commits.pull_request_id
        and prs.repo = {{ row }}.repo
    {%- else %}
    inner join {{ prs }} as prs
        on prs.source_instance = {{ row }}.code_host_instance
        and prs.repo = {{ row }}.repo
        and {{ rule.on | replace('{row}', row) }}
    {%- endif %}
{%- endmacro %}

{#- Those hosts' pull request commits. -#}
{% macro deployment_change_pull_request_commits() -%}
    select 'github' as code_host, source_instance, pull_request_id, commit_sha, author_name, authored_at,
        message_headline
    from {{ ref('stg_github__pull_request_commits') }}
    union all
    select 'bitbucket', source_instance, pull_request_id, sha, trim(split_part(author_raw, '<', 1)), authored_at,
        split_part(message, chr(10), 1)
    from {{ ref('stg_bitbucket__pull_request_commits') }}
{%- endmacro %}

{#- Every read that can change what a pull request matches: the pull request itself, its commits (read again
    whole: staging_rows' by_parent) and, on Bitbucket, the activity its merge time and merge commit come from. -#}
{% macro deployment_change_pull_request_reads() -%}
    select 'github' as code_host, source_instance, pull_request_id, extracted_at
    from {{ ref('stg_github__pull_requests') }}
    union all
    select 'github', source_instance, pull_request_id, extracted_at from {{ ref('stg_github__pull_request_commits') }}
    {%- for model in ['stg_bitbucket__pull_requests', 'stg_bitbucket__pull_request_commits',
                      'stg_bitbucket__pull_request_activity'] %}
    union all
    select 'bitbucket', source_instance, pull_request_id, extracted_at from {{ ref(model) }}
    {%- endfor %}
{%- endmacro %}

{#- `values` joined into one text, NULL written as a mark no value takes. -#}
{% macro input_fingerprint(values) -%}
    {%- for value in values -%}
    coalesce(cast({{ value }} as {{ dbt.type_string() }}), '<null>'){% if not loop.last %} || '|' || {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- The production deployments as int_deployment_changes reads them now (kind 'deployment', entity_key,
    fingerprint): the place in the chain, what the listing reads of it, and the compare set's size and newest
    read (compare commits are added or read again, never rewritten in place; a report merged into the
    deployment brings its own). -#}
{% macro deployment_change_deployment_inputs() -%}
    select
        cast('deployment' as {{ dbt.type_string() }}) as kind,
        chains.deployment_key as entity_key,
        {{ input_fingerprint([
            'chains.chain_key', 'chains.chain_position', 'chains.forward_successes_before', 'chains.is_repeat',
            'chains.source_instance', 'chains.service', 'deployments.environment', 'compare_sets.commit_count',
            'compare_sets.newest_read']) }} as fingerprint
    from {{ ref('int_deployment_chains') }} as chains
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = chains.deployment_key
    left join (
        select report_keys.deployment_key, count(*) as commit_count, max(commits.extracted_at) as newest_read
        from {{ ref('int_deployment_range_commits') }} as commits
        inner join {{ ref('int_deployment_report_keys') }} as report_keys
            on report_keys.report_key = commits.source_instance || ':' || commits.deployment_id
        group by report_keys.deployment_key
    ) as compare_sets on compare_sets.deployment_key = chains.deployment_key
{%- endmacro %}

{#- int_deployment_change_inputs' rows: the deployments, and per code host source instance (kind
    'pull_request_reads', entity_key the instance) the newest read of its pull requests as text. -#}
{% macro deployment_change_inputs() -%}
    {{ deployment_change_deployment_inputs() }}
    union all
    select 'pull_request_reads', source_instance, cast(max(extracted_at) as {{ dbt.type_string() }})
    from ({{ deployment_change_pull_request_reads() }}) as reads
    group by source_instance
{%- endmacro %}

{#- The relation int_deployment_change_inputs (the inputs as the last build saw them) when it exists: read by
    name, as it is built after the models that compare with it. -#}
{% macro built_deployment_change_inputs() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema,
                                   identifier='int_deployment_change_inputs')) }}
{%- endmacro %}

{#- Whether this run of int_deployment_changes rebuilds only int_deployment_changes_to_rebuild's deployments: an
    incremental run with the inputs of a previous build to compare, and the list built in this run (a
    `--select` of int_deployment_changes alone would read an old list). Otherwise every row is rebuilt. -#}
{% macro deployment_changes_is_partial() -%}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(built_deployment_change_inputs() is not none
              and ('model.' ~ project_name ~ '.int_deployment_changes_to_rebuild') in selected_resources) }}
{%- endmacro %}

{#- int_deployment_changes' pre-hook: the rows of the deployments it rebuilds go first (all of them when it
    rebuilds every deployment), and the run appends theirs. -#}
{% macro delete_rebuilt_deployments() -%}
    {%- if deployment_changes_is_partial() -%}
    delete from {{ this }}
    where deployment_key in (select deployment_key from {{ ref('int_deployment_changes_to_rebuild') }})
    {%- elif is_incremental() -%}
    delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The mart deployment_changes, incremental by comparison (macros/compared_increments.sql): per deployment,
    its rows; every row of a commit a changed deployment lists goes, as which deployment shipped a commit first
    is decided over all of its rows (over every production environment). -#}

{#- Its columns but the flag, as (name, expression over int_deployment_changes `changes`, int_deployments_unioned
    `deployments` and int_service_teams `teams`), the deployment first. -#}
{% macro shipped_change_columns() -%}
    {{ return([
        ('deployment_key', 'changes.deployment_key'), ('service', 'changes.service'),
        ('team', "coalesce(teams.team, 'unassigned')"), ('environment', 'changes.environment'),
        ('deployment_status', 'deployments.status'), ('deployment_finished_at', 'deployments.finished_at'),
        ('repo', 'changes.repo'), ('commit_sha', 'changes.commit_sha'), ('author', 'changes.author'),
        ('authored_at', 'changes.authored_at'), ('committed_at', 'changes.committed_at'),
        ('message_headline', 'changes.message_headline'), ('pull_request_key', 'changes.pull_request_key'),
        ('pull_request_number', 'changes.pull_request_number'), ('pull_request_match', 'changes.pull_request_match'),
    ]) }}
{%- endmacro %}

{% macro shipped_change_joins() -%}
    from {{ ref('int_deployment_changes') }} as changes
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = changes.deployment_key
    left join {{ ref('int_service_teams') }} as teams on teams.service = changes.service
{%- endmacro %}

{#- The commit of a row, as deployment_changes replaces them. -#}
{% macro shipped_commit_columns() -%}
    {{ return([('repo', 'changes.repo'), ('commit_sha', 'changes.commit_sha')]) }}
{%- endmacro %}
