"""The publish step as Dagster assets: `published/marts` after the dbt marts, and one `dashboards/<name>` asset
per dbt dashboard exposure. What publishing does to the files is operations/publish.py."""

import dagster as dg
from dagster import AssetExecutionContext

from operations.publish import (
    MARTS_SCHEMA, STORAGE_VERSION, dashboard_exposures, mart_descriptions, publish_marts, published_dir,
)
from operations.run_report import report_progress
from pipelines.resources import ThroughlineResource
from pipelines.settings import WRITER_POOL

PUBLISHED_KEY = dg.AssetKey(["published", "marts"])


def build_publish_assets(dbt_assets: dg.AssetsDefinition, manifest: dict) -> dg.AssetsDefinition:
    """One step in the writer pool: publish the marts, then mark each dashboard's data as refreshed.

    The publish asset depends on every dbt model in the `marts` group, so a mart added to the dbt
    project is published without a change here. dagster-dbt does not turn dbt exposures into assets,
    so each dashboard exposure becomes an asset here, downstream of the marts it reads and of the
    published file. A dashboard asset "materializes" when the published data it reads is replaced:
    BI tools pointed at the published files see it on their next query, Evidence on its next build.
    """
    mart_keys = {
        spec.key for spec in dbt_assets.specs if spec.group_name == MARTS_SCHEMA
    }
    key_by_mart = {key.path[-1]: key for key in mart_keys}
    exposures = dashboard_exposures(manifest)
    descriptions = mart_descriptions(manifest)
    specs = [
        dg.AssetSpec(
            PUBLISHED_KEY,
            deps=sorted(mart_keys, key=lambda k: k.to_user_string()),
            group_name="published",
            kinds={"duckdb", "parquet"},
            description="Every mart copied to marts.duckdb and parquet/<mart>/ beside the working "
            "warehouse, swapped in atomically for BI tools (docs/BI.md).",
        )
    ]
    for exposure in exposures:
        specs.append(dg.AssetSpec(
            dg.AssetKey(["dashboards", exposure["name"]]),
            deps=[PUBLISHED_KEY, *(key_by_mart[m] for m in exposure["marts"] if m in key_by_mart)],
            group_name="dashboards",
            kinds={"evidence"},
            description=exposure["description"] or exposure["label"],
            metadata={"dbt exposure": exposure["name"], "reads": ", ".join(exposure["marts"])},
        ))

    @dg.multi_asset(name="publish_marts", specs=specs, pool=WRITER_POOL, can_subset=True)
    def publish(context: AssetExecutionContext, throughline: ThroughlineResource):
        warehouse = throughline.warehouse()
        result = publish_marts(warehouse, published_dir(warehouse), descriptions)
        context.log.info(f"published {len(result.row_counts)} marts to {result.duckdb_file} and {result.parquet_dir}")
        report_progress(f"publish: {len(result.row_counts)} marts to {result.duckdb_file} and {result.parquet_dir}/")
        if PUBLISHED_KEY in context.selected_asset_keys:
            yield dg.MaterializeResult(
                asset_key=PUBLISHED_KEY,
                metadata={
                    "duckdb_file": dg.MetadataValue.path(str(result.duckdb_file)),
                    "parquet_dir": dg.MetadataValue.path(str(result.parquet_dir)),
                    "storage_version": STORAGE_VERSION,
                    "row_counts": dg.MetadataValue.json(result.row_counts),
                    **{f"rows/{mart}": count for mart, count in result.row_counts.items()},
                },
            )
        for exposure in exposures:
            key = dg.AssetKey(["dashboards", exposure["name"]])
            if key in context.selected_asset_keys:
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={f"rows/{m}": result.row_counts.get(m, 0) for m in exposure["marts"]},
                )

    return publish


def publish_assets() -> dg.AssetsDefinition:
    """The publish step of the nightly job, built from the dbt assets and the project's manifest."""
    from pipelines.dbt_assets import MANIFEST, dbt_models

    return build_publish_assets(dbt_models, MANIFEST)
