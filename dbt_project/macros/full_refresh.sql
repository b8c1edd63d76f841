{#- Whether the model is built in full: dbt's rule (the model's `full_refresh` config, else `--full-refresh`), and
    the incremental models the nightly lists in THROUGHLINE_REFRESH_MODELS (comma-separated unique ids): those whose
    code, or the code of a model they read, changed since the last complete build, i.e. an upgrade
    (operations/unchanged_nodes.py `models_to_refresh`, docs/OPERATIONS.md#upgrades). An incremental model rebuilds
    only the keys its changes touch, so without this the rows the older code wrote would stay as they were.
    Overrides dbt's macro of this name: the incremental materializations and is_incremental() ask it. -#}
{% macro should_full_refresh() -%}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is not none -%}
    {{ return(configured) }}
    {%- endif -%}
    {{ return(flags.FULL_REFRESH or model.unique_id in env_var('THROUGHLINE_REFRESH_MODELS', '').split(',')) }}
{%- endmacro %}
