-- The deployment rules of every configured source, plus the '*' row of defaults (macros/deployment_rules.sql).
{{ deployment_rules_rows() }}
