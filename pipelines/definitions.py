"""The code location: assembles raw assets, dbt assets, the nightly job and its schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.dbt_assets import dbt_models, dbt_resource
from pipelines.raw_assets import build_raw_assets
from pipelines.resources import ThroughlineResource
from pipelines.settings import schedule_config

nightly = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Extract every configured source into raw, then build and test every dbt model.",
)


def nightly_schedule() -> dg.ScheduleDefinition:
    schedule = schedule_config()
    return dg.ScheduleDefinition(
        name="nightly_schedule",
        job=nightly,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


defs = dg.Definitions(
    assets=[*build_raw_assets(), dbt_models],
    jobs=[nightly],
    schedules=[nightly_schedule()],
    resources={"throughline": ThroughlineResource(), "dbt": dbt_resource()},
)
