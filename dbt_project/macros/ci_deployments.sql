{#
  The deployments of a CI source without a deployment object (CircleCI, Jenkins): the units whose name matches
  the source's `job_pattern` (jobs, pipeline stages), else the container they run in (workflow, build) when its
  name matches and none of its units does, so a `deploy` workflow with a `deploy-prod` job counts once, as the
  job. `units` and `containers`: CTEs of the same columns, the container's id in `container_key`.
#}
{% macro ci_deployment_candidates(units, containers, container_key) -%}
    select * from {{ units }}
    union all
    select * from {{ containers }}
    where not exists (
        select 1
        from {{ units }}
        where {{ units }}.source_instance = {{ containers }}.source_instance
            and {{ units }}.{{ container_key }} = {{ containers }}.{{ container_key }}
    )
{%- endmacro %}
