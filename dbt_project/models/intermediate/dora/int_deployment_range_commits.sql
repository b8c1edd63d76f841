-- The commits in each production deployment's range, from every code host that gives one: GitHub's compare
-- with the previous deployment of the environment, Bitbucket's commit list of the deployed hash less the
-- previous one's (the connector reads both the same way: against the previous deployment of the repository
-- and environment whatever its outcome; an environment's first deployment lists its history back to
-- start_date). Definitions: docs/METRICS.md#deployment-changes.

{% for code_host, model in [('github', 'stg_github__compare_commits'),
                               ('bitbucket', 'stg_bitbucket__deployment_commits')] %}
{% if not loop.first %}union all{% endif %}
select
    cast('{{ code_host }}' as varchar) as code_host,
    source_instance,
    deployment_id,
    repo,
    commit_sha,
    author,
    author_name,
    authored_at,
    committed_at,
    message_headline,
    parent_count,
    extracted_at
from {{ ref(model) }}
{% endfor %}
