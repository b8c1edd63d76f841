-- The inputs int_deployment_changes was last built from (macros/deployment_change_increments.sql): one row per
-- production deployment with a fingerprint of what the change sets read from it, and per code host source
-- instance the newest read of its pull requests.
-- Built after int_deployment_changes, so the next run's int_deployment_changes_to_rebuild compares the inputs
-- then with these. When int_deployment_changes fails, this is not built, and the next run compares with the
-- inputs of the last build that succeeded: it rebuilds everything changed since.
-- depends_on: {{ ref('int_deployment_changes') }}

{{ deployment_change_inputs() }}
