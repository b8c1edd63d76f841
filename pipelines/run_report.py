"""The run report in Dagster: `ops/stream_runs` after every extract step, with the run's totals as metadata, and
`ops/run_outcome`, the nightly's last step, which fails the run for the scopes that failed to read. The rows
themselves are written and read by operations/run_report.py."""

import dagster as dg

from operations.alerts import failed_scopes, scope_line, stale_streams
from operations.run_report import run_rows, utc_now
from pipelines.resources import ThroughlineResource
from pipelines.settings import WRITER_POOL


def build_run_report_asset(raw_asset_keys):
    """`ops/stream_runs`: after every extract step, the run's report as Dagster metadata."""

    @dg.asset(
        key=dg.AssetKey(["ops", "stream_runs"]),
        deps=list(raw_asset_keys),
        group_name="raw",
        kinds={"duckdb"},
        pool=WRITER_POOL,
        description="The run report (table ops.stream_runs): per run, source, stream and scope, records read, "
        "new and updated, requests, retries, 304s, rate-limit waits, duration, cursor before and after, error.",
    )
    def stream_runs(context: dg.AssetExecutionContext, throughline: ThroughlineResource):
        with throughline.raw_store() as store:
            rows = run_rows(store, context.run_id)
        totals = {
            name: sum(row[name] or 0 for row in rows)
            for name in ("records", "new_records", "updated_records", "requests", "retries", "not_modified")
        }
        failed = sorted({row["source_instance"] for row in rows if row["status"] == "failed"})
        scopes = [scope_line(row["source_instance"], row["scope"], row["stream"], row["error"])
                  for row in rows if row["status"] == "failed" and row["error"]]
        return dg.MaterializeResult(
            metadata={
                **{name: dg.MetadataValue.int(int(value)) for name, value in totals.items()},
                "failed_sources": dg.MetadataValue.json(failed),
                "failed_scopes": dg.MetadataValue.json(scopes),
                "streams": dg.MetadataValue.md(_markdown(rows)),
            }
        )

    return stream_runs


def _markdown(rows: list[dict]) -> str:
    header = ("| source | stream | scope | status | records | new | updated | requests | retries | 304s | seconds "
              "| cursor after |")
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        lines.append(
            f"| {row['source_instance']} | {row['stream']} | {row['scope'] or ''} | {row['status']} | {row['records']} | "
            f"{row['new_records']} | {row['updated_records']} | {row['requests']} | {row['retries']} | "
            f"{row['not_modified']} | {row['seconds']} | {row['cursor_after'] or ''} |"
        )
    return "\n".join(lines)


RUN_OUTCOME_KEY = ("ops", "run_outcome")


def build_run_outcome_asset(after):
    """`ops/run_outcome`: the last step of the nightly. The extract steps record a failed scope or source
    in the run report and succeed with what landed, so dbt and publish build from everything else; this step
    then fails the run, one line per failed source, stream and scope, so the run ends failed and the alert
    (CLI or the failure sensor) names each of them. It also lists the stale scopes.
    """
    @dg.asset(
        key=dg.AssetKey(list(RUN_OUTCOME_KEY)),
        deps=list(after),
        group_name="published",
        kinds={"duckdb"},
        pool=WRITER_POOL,
        description="Fails the run when any source or scope failed to read (the marts were still built and "
        "published from what landed); lists each failed scope and each stale one.",
    )
    def run_outcome(context: dg.AssetExecutionContext, throughline: ThroughlineResource):
        warehouse = throughline.warehouse()
        failed = failed_scopes(warehouse, context.run_id)
        stale = stale_streams(warehouse, throughline.config(), utc_now())
        metadata = {
            "failed_scopes": dg.MetadataValue.json([p.line()[2:] for p in failed]),
            "stale": dg.MetadataValue.json([p.line()[2:] for p in stale]),
        }
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} source(s) or scope(s) of this run failed; the marts were built and "
                "published from everything else:\n" + "\n".join(
                    scope_line(p.source or "?", p.scope, p.asset, p.error) for p in failed),
                metadata=metadata,
                allow_retries=False,
            )
        return dg.MaterializeResult(metadata=metadata)

    return run_outcome
