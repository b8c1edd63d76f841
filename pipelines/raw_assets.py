"""One Dagster asset per raw stream, keyed `raw/<source_type>__<stream>` like the dbt source.

Assets are generated from the connector registry rather than written per source: every source
type reads the same way (all its configured instances, one group of streams at a time), so the
policy lives here once and a new source type only adds a registry entry.
"""


from collections import defaultdict

import dagster as dg
from dagster import AssetExecutionContext

from connectors.core.engine import StreamResult
from connectors.core.raw import raw_table
from connectors.core.source import SourceType
from connectors.registry import source_types
from operations.alerts import scope_line
from operations.run_report import read_source
from pipelines.monitoring import raw_freshness
from pipelines.resources import ThroughlineResource
from pipelines.run_report import RUN_OUTCOME_KEY
from pipelines.settings import WRITER_POOL


def raw_key(source_type: str, stream: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", raw_table(source_type, stream)])


def stream_metadata(results: list[StreamResult]) -> dict[str, dg.MetadataValue]:
    """Totals plus one row per (instance, scope); never credentials, only names and counts."""
    rows = [
        {"source": r.source_instance, "scope": r.scope, **r.as_metadata()}
        for r in results
    ]
    return {
        "records": dg.MetadataValue.int(sum(r.records for r in results)),
        "requests": dg.MetadataValue.int(sum(r.stats.requests for r in results)),
        "retries": dg.MetadataValue.int(sum(r.stats.retries for r in results)),
        "by_scope": dg.MetadataValue.json(rows),
    }


def _build(source_type: SourceType, group: str, streams: tuple[str, ...]) -> dg.AssetsDefinition:
    st = source_type.name
    specs = [
        dg.AssetSpec(
            key=raw_key(st, stream),
            group_name="raw",
            kinds={"duckdb", st},
            description=f"Raw {st} {stream.replace('_', ' ')} as the API returned them (table raw.{raw_table(st, stream)}).",
            freshness_policy=raw_freshness(),
        )
        for stream in streams
    ]

    @dg.multi_asset(name=f"extract_{st}__{group}", specs=specs, pool=WRITER_POOL, can_subset=False)
    def extract(context: AssetExecutionContext, throughline: ThroughlineResource):
        config = throughline.config()
        by_stream: dict[str, list[StreamResult]] = defaultdict(list)
        failures: list[dict] = []
        with throughline.raw_store(config=config) as store:
            for stream in streams:  # empty tables still let dbt build when a type is not configured
                store.ensure_table(raw_table(st, stream))
            for source in config.sources_of(st):
                # A failed scope or source is recorded in the run report and the run fails at its end
                # (ops/run_outcome); what landed is materialized, so dbt and publish build from it.
                results, failed = read_source(store, context.run_id, st, source.name, group,
                                              lambda source=source: source_type.extract(group, source, store))
                for result in results:
                    by_stream[stream_of(result.table, st)].append(result)
                    for child, n in result.child_records.items():
                        by_stream[child].append(
                            StreamResult(result.source_instance, raw_table(st, child), result.scope, records=n)
                        )
                for f in failed:
                    where = f" scope '{f.scope}'" if f.scope else ""
                    context.log.error(f"{st} source '{source.name}'{where} ({group}): {f.error}")
                    failures.append({"source": source.name, "scope": f.scope or "", "stream": f.result.table,
                                     "requests": f.result.stats.requests, "retries": f.result.stats.retries,
                                     "error": f.error})
        for stream in streams:
            yield dg.MaterializeResult(
                asset_key=raw_key(st, stream),
                metadata={**stream_metadata(by_stream[stream]), "failed_scopes": dg.MetadataValue.json(failures)},
            )
        if failures and not reported_later(context):
            # Materialized on its own (not in the nightly): no later step says what failed, so this one does.
            raise dg.Failure(
                description=f"{len(failures)} {st} source(s) or scope(s) failed while reading {group}:\n"
                + "\n".join(scope_line(f["source"], f["scope"] or None, None, f["error"]) for f in failures),
                allow_retries=False,
            )

    return extract


def reported_later(context: AssetExecutionContext) -> bool:
    """Whether this run ends with ops/run_outcome, which fails the run for every failed scope."""
    key = dg.AssetKey(list(RUN_OUTCOME_KEY))
    selected = context.dagster_run.asset_selection  # empty (not None) when the whole job runs
    return key in (selected or context.job_def.asset_layer.executable_asset_keys)


def stream_of(table: str, source_type: str) -> str:
    return table.removeprefix(f"{source_type}__")


def build_raw_assets() -> list[dg.AssetsDefinition]:
    return [
        _build(source_type, group, streams)
        for source_type in source_types().values()  # built in, in-repo and installed plugins
        for group, streams in source_type.groups.items()
    ]


