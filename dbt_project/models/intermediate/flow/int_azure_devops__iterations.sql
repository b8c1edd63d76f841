-- Azure DevOps iterations, one row each: the connector reads them per team and several teams can share one, so
-- the latest read of each is kept. An iteration's dates are days (finishDate is its last day, at midnight UTC),
-- so it ends when its last day does. Work items name an iteration by its path, which Azure DevOps compares
-- without regard to case: path_key is the lower-case path both sides join on.
-- Definitions: docs/METRICS.md#sprint-predictability.

select distinct on (source_instance, iteration_id)
    source_instance,
    project,
    iteration_id,
    iteration_name,
    iteration_path,
    lower(iteration_path) as path_key,
    time_frame,
    started_at,
    finished_at + interval '1 day' as ended_at,
    extracted_at
from {{ ref('stg_azure_devops__iterations') }}
where iteration_id is not null
order by source_instance, iteration_id, extracted_at desc
