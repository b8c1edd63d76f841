{# The rows a file or table source (events, outcomes; connectors/core/files.py) refused, from its
   raw.<type>__rejected_rows table: one shape for every such source, so a dashboard reads them alike. #}
{% macro file_source_rejected_rows(raw_table) %}
select
    source_instance,
    payload ->> '$.kind' as kind,
    payload ->> '$.file' as file,
    (payload ->> '$.line')::integer as line,
    payload ->> '$.reason' as reason,
    payload -> '$.row' as row_values,
    extracted_at
from {{ source('raw', raw_table) }}
{% endmacro %}
