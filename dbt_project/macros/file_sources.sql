{# The rows a file or table source (events, outcomes; connectors/core/files.py) refused, from its
   raw.<type>__rejected_rows table: one shape for every such source, so a dashboard reads them alike. #}
{% macro file_source_rejected_rows(raw_table) %}
select
    source_instance,
    {{ json_text('payload', 'kind') }} as kind,
    {{ json_text('payload', 'file') }} as file,
    ({{ json_text('payload', 'line') }})::integer as line,
    {{ json_text('payload', 'reason') }} as reason,
    {{ json_get('payload', 'row') }} as row_values,
    extracted_at
from {{ source('raw', raw_table) }}
{% endmacro %}
