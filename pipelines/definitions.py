"""The code location: assembles raw assets, dbt assets, the nightly job and its schedule."""


import dagster as dg

from connectors.config import asset_owner, extraction_config, retention_config, schedule_config
from operations.compact import compact as compact_file
from pipelines.dbt_assets import dbt_models, dbt_resource
from pipelines.monitoring import alert_on_failed_run, alert_on_stale_data
from pipelines.publish import PUBLISHED_KEY, publish_assets
from pipelines.raw_assets import build_raw_assets
from pipelines.resources import ThroughlineResource
from pipelines.run_report import build_run_outcome_asset, build_run_report_asset
from pipelines.settings import WRITER_POOL, schedule_status

landing_assets: list[dg.AssetsDefinition] = []
landing_jobs: list = []
landing_schedules: list = []
landing_sensors: list = []
if extraction_config().mode == "sharded":
    # Partitioned landing assets fan extraction out; the raw keys become merges (pipelines/sharded_assets.py).
    from pipelines import sharded_assets as sharded

    landing_assets, raw_assets = sharded.build_sharded_assets()
    landing_jobs = sharded.landing_jobs(landing_assets)
    landing_schedules = sharded.landing_schedules(landing_assets, schedule_config().cron, schedule_config().timezone)
    # The nightly starts when the landing runs are over (the sensor), not at the cron alongside them.
    landing_sensors = [sharded.nightly_after_landing(sharded.landing_job_names(landing_assets))]
else:
    raw_assets = build_raw_assets()
raw_keys = [key for assets in raw_assets for key in assets.keys]

nightly = dg.define_asset_job(
    "nightly",
    # A job runs one partition: the partitioned landing assets run in their own jobs (backfills), before it.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("landing") if landing_assets
    else dg.AssetSelection.all(),
    description="Extract every configured source into raw, then build and test every dbt model.",
)


@dg.op(pool=WRITER_POOL, description="Rewrite the working warehouse into a fresh file (operations/compact.py).")
def compact_warehouse(context: dg.OpExecutionContext, throughline: ThroughlineResource) -> None:
    retention = throughline.config().retention
    result = compact_file(throughline.warehouse(), run_report_days=retention.run_report_days)
    context.log.info(result.line())
    context.add_output_metadata({"bytes_before": result.bytes_before, "bytes_after": result.bytes_after,
                                 "run_report_rows_dropped": result.run_report_rows_dropped})


@dg.job(description="Weekly: reclaim the space of replaced raw rows and trim the run report; no mart changes.")
def compact():
    compact_warehouse()


def running_schedule(name: str, job, cron: str) -> dg.ScheduleDefinition:
    """A schedule in `schedule.timezone`, on from the start with a config of the user's own (schedule_status)."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=schedule_config().timezone,
        default_status=schedule_status(),
    )


# Every asset's owner in the UI and catalog: `owner:` of throughline.yml (a team or an email).
OWNERS = [asset_owner()]

defs = dg.Definitions(
    assets=dg.map_asset_specs(
        lambda spec: spec.replace_attributes(owners=OWNERS),
        [*landing_assets, *raw_assets, build_run_report_asset(raw_keys), dbt_models, publish_assets(),
         # last: fails the run for the scopes that failed to read, after the marts were built from the rest
         build_run_outcome_asset([PUBLISHED_KEY, dg.AssetKey(["ops", "stream_runs"])])],
    ),
    jobs=[nightly, compact, *landing_jobs],
    schedules=[
        *([] if landing_sensors else [running_schedule("nightly_schedule", nightly, schedule_config().cron)]),
        running_schedule("compact_schedule", compact, retention_config().compact_cron),
        *landing_schedules,
    ],
    sensors=[
        alert_on_failed_run,
        alert_on_stale_data,
        *landing_sensors,
    ],
    resources={"throughline": ThroughlineResource(), "dbt": dbt_resource()},
)
