-- Rows the connector refused; kept so a dashboard or a person can see what to fix, file by file.
{{ file_source_rejected_rows('outcomes__rejected_rows') }}
