"""Sharded extraction (`extraction: {mode: sharded}`): one Dagster partition per source and scope, merged by
the one warehouse writer.

DuckDB allows one writing process, so the single mode reads every source inside the writer pool. Here each
partition (a Jira project, a repository, ...) is read by the same `SourceType.extract`, narrowed to its one
scope, into its own shard file `<shards>/<source>/<group>/<scope slug>.duckdb`. No two partitions share a
file, so a backfill's runs can go to other processes or pods (multiprocess, Kubernetes, Celery executors).
Each shard is a small warehouse of its own, with its own cursors and ETags: a cursor still advances only
with the rows it covers, and each scope stays incremental.

The raw assets keep their keys (dbt sources map to them) and become merge steps in the writer pool: for
every shard, in one transaction of the warehouse, the rows of that (source, scope) are replaced by the
shard's (connectors/core/shards.py). Merging a shard twice gives the same tables.

One shard per group as well as per scope: two groups of one partition are two steps, which the
multiprocess executor may run at once, and a DuckDB file has one writer.
"""

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
import duckdb
import yaml

from connectors.config import config_path
from connectors.core.engine import StreamResult
from connectors.core.errors import ConfigError
from connectors.core.raw import RAW_SCHEMA, STREAM_RUNS_TABLE, raw_table
from connectors.core.shards import merge_shard, shard_path, shards_root
from connectors.core.source import SourceType
from connectors.partitions import Partition, described, narrowed, partition_key_problems, partitions_of, per_scope
from connectors.registry import source_types
from operations.alerts import scope_line
from operations.run_report import read_source, utc_now
from pipelines.monitoring import raw_freshness
from pipelines.raw_assets import raw_key, stream_metadata, stream_of
from pipelines.resources import ThroughlineResource
from pipelines.settings import WRITER_POOL, launching_sensor_status, schedule_status

LANDING_GROUP = "landing"


def landing_key(source_type: str, group: str) -> dg.AssetKey:
    return dg.AssetKey([LANDING_GROUP, f"{source_type}__{group}"])


def configured_sources() -> list[dict[str, Any]]:
    """`sources:` of throughline.yml as written: definitions load without credentials (as the schedule does)."""
    path = config_path()
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
    except yaml.YAMLError:
        return []  # the run reports the YAML error with the file name and line
    sources = (data or {}).get("sources") if isinstance(data, dict) else None
    return [s for s in sources or [] if isinstance(s, dict) and isinstance(s.get("type"), str)
            and isinstance(s.get("name"), str)]


def _landing(source_type: SourceType, group: str, streams: tuple[str, ...], keys: list[str]) -> dg.AssetsDefinition:
    st = source_type.name

    @dg.asset(
        key=landing_key(st, group),
        partitions_def=dg.StaticPartitionsDefinition(keys),
        group_name=LANDING_GROUP,
        kinds={"duckdb", st},
        description=f"{st} {group.replace('_', ' ')} of one source and scope, in its own shard file "
        f"(merged into raw by the raw/{st}__* assets).",
    )
    def land(context: AssetExecutionContext, throughline: ThroughlineResource) -> dg.MaterializeResult:
        partition = Partition.of_key(context.partition_key)
        config = throughline.config()
        source = next((s for s in config.sources_of(st) if s.name == partition.source), None)
        if source is None or partition not in partitions_of(st, group, described(source)):
            raise dg.Failure(
                description=f"partition '{partition.key}' is no longer in throughline.yml (the code location "
                "reads the partitions at load: reload it after changing sources)",
                allow_retries=False,
            )
        path = shard_path(shards_root(config, throughline.warehouse()), partition.source, group, partition.scope)
        with throughline.raw_store(path, config) as store:
            for stream in streams:
                store.ensure_table(raw_table(st, stream))
            # What was committed before a failure stays in the shard, and the merge takes it.
            results, failed = read_source(store, context.run_id, st, source.name, group,
                                          lambda: source_type.extract(group, narrowed(st, source, partition), store))
            # The merge copies these rows; compaction trims only the warehouse, so the shard trims its own.
            cutoff = utc_now() - timedelta(days=config.retention.run_report_days)
            with store.lock:
                store.con.execute(f"DELETE FROM {STREAM_RUNS_TABLE} WHERE started_at < ?", [cutoff])
        if failed:
            # One line per failed scope, in the shape the alert reads (operations/alerts.py, _step_problems); the
            # merge still takes what the shard holds, so the nightly builds from it.
            raise dg.Failure(
                description=f"{len(failed)} {st} scope(s) failed while reading {group}:\n" + "\n".join(
                    scope_line(source.name, f.scope, None, f.error) for f in failed),
                allow_retries=False,
            )
        by_stream: dict[str, list[StreamResult]] = defaultdict(list)
        for result in results:
            by_stream[stream_of(result.table, st)].append(result)
        return dg.MaterializeResult(metadata={
            "shard": dg.MetadataValue.path(str(path)),
            **{f"{stream}_records": dg.MetadataValue.int(sum(r.records for r in by_stream[stream]))
               for stream in streams},
            **stream_metadata(results),
        })

    return land


def _merge(source_type: SourceType, group: str, streams: tuple[str, ...], landed: bool) -> dg.AssetsDefinition:
    st = source_type.name
    specs = [
        dg.AssetSpec(
            key=raw_key(st, stream),
            group_name="raw",
            kinds={"duckdb", st},
            deps=[landing_key(st, group)] if landed else [],
            description=f"Raw {st} {stream.replace('_', ' ')} as the API returned them (table "
            f"raw.{raw_table(st, stream)}), merged from the shards of landing/{st}__{group}.",
            freshness_policy=raw_freshness(),
        )
        for stream in streams
    ]

    @dg.multi_asset(name=f"merge_{st}__{group}", specs=specs, pool=WRITER_POOL, can_subset=False)
    def merge(context: AssetExecutionContext, throughline: ThroughlineResource):
        config = throughline.config()
        root = shards_root(config, throughline.warehouse())
        tables = [raw_table(st, stream) for stream in streams]
        merged, missing, busy = [], [], []
        foreign: dict[str, int] = defaultdict(int)
        with throughline.raw_store() as store:
            for table in tables:  # empty tables still let dbt build when a type is not configured
                store.ensure_table(table)
            for source in config.sources_of(st):
                for partition in partitions_of(st, group, described(source)):
                    path = shard_path(root, partition.source, group, partition.scope)
                    if not path.exists():
                        missing.append(partition.key)  # never landed: its rows in the warehouse stay
                        continue
                    try:
                        counts = merge_shard(store, path, partition.source, partition.scope, group, tables)
                    except duckdb.IOException as exc:
                        if "lock" not in str(exc).lower():
                            raise
                        # A landing run still writes it: the last merged state stays, the next merge takes it.
                        busy.append(partition.key)
                        continue
                    merged.append(partition.key)
                    for table, n in counts.items():
                        foreign[table] += n
            rows = {table: dict(store.con.execute(
                f"SELECT source_instance, count(*) FROM {RAW_SCHEMA}.{table} GROUP BY 1").fetchall())
                for table in tables}
        for what, keys in (("never landed", missing), ("in use by a landing run", busy)):
            if keys:
                context.log.warning(f"{st} {group}: shards {what}, not merged: {', '.join(keys)}")
        for stream, table in zip(streams, tables):
            yield dg.MaterializeResult(asset_key=raw_key(st, stream), metadata={
                "shards_merged": dg.MetadataValue.json(merged),
                "shards_not_merged": dg.MetadataValue.json(missing + busy),
                "rows_by_source": dg.MetadataValue.json(rows[table]),
                "rows_of_other_scopes": dg.MetadataValue.int(foreign.get(table, 0)),
            })

    return merge


def build_sharded_assets(sources: list[dict[str, Any]] | None = None
                         ) -> tuple[list[dg.AssetsDefinition], list[dg.AssetsDefinition]]:
    """(landing assets, merge assets), the latter under the raw keys; a type without configured sources
    has merge assets only (they create its empty tables)."""
    sources = configured_sources() if sources is None else sources
    if problems := partition_key_problems(sources):
        # Raised before Dagster's own check, whose message names neither the source nor the fix.
        raise ConfigError("extraction.mode sharded: " + "\n  ".join(problems))
    landing, merges = [], []
    for source_type in source_types().values():
        of_type = [s for s in sources if s["type"] == source_type.name]
        for group, streams in source_type.groups.items():
            keys = [p.key for s in of_type for p in partitions_of(source_type.name, group, s)]
            if keys:
                landing.append(_landing(source_type, group, streams, keys))
            merges.append(_merge(source_type, group, streams, bool(keys)))
    return landing, merges


def _landing_job_keys(landing: list[dg.AssetsDefinition]) -> dict[str, tuple[list[dg.AssetKey], list[str]]]:
    """Job name -> (landing asset keys, partition keys): one job per source type and kind of partition (per
    scope, per source), whose assets share their partitions."""
    jobs: dict[str, tuple[list[dg.AssetKey], list[str]]] = {}
    for assets in landing:
        st, group = assets.key.path[-1].split("__", 1)
        kind = "scopes" if per_scope(source_types()[st], group) else "sources"
        keys, _ = jobs.setdefault(f"landing_{st}__{kind}", ([], assets.partitions_def.get_partition_keys()))
        keys.append(assets.key)
    return dict(sorted(jobs.items()))


def landing_jobs(landing: list[dg.AssetsDefinition]) -> list:
    """One run reads every group of one partition, its groups as parallel steps under the multiprocess
    executor; a backfill of every partition fans out over runs (pods with the Kubernetes run launcher)."""
    return [
        dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys),
                            description="Read one partition (source and scope) into its shard files.")
        for name, (keys, _) in _landing_job_keys(landing).items()
    ]


# Queued runs start by priority: the landing runs of a night go before its `nightly` (merges and dbt).
LANDING_PRIORITY = "10"


def landing_schedules(landing: list[dg.AssetsDefinition], cron: str, timezone: str) -> list[dg.ScheduleDefinition]:
    """Every partition of every landing job at `cron`, one run each."""

    def schedule(name: str, partitions: list[str]) -> dg.ScheduleDefinition:
        def requests(context: dg.ScheduleEvaluationContext):
            tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else ""
            for key in partitions:
                yield dg.RunRequest(run_key=f"{key}@{tick}", partition_key=key, tags={"dagster/priority": LANDING_PRIORITY})

        return dg.ScheduleDefinition(
            name=f"{name}_schedule", job_name=name, cron_schedule=cron, execution_timezone=timezone,
            execution_fn=requests, default_status=schedule_status(),
        )

    return [schedule(name, partitions) for name, (_, partitions) in _landing_job_keys(landing).items()]


def sharded_job(name: str):
    """A landing job (or `merge`: every merge asset) rebuilt from throughline.yml alone, outside the code
    location: `dg.build_reconstructable_job("pipelines.sharded_assets", "sharded_job", reconstructable_args=
    (name,))` runs it from a script with the multiprocess executor, each step process rebuilding it."""
    landing, merges = build_sharded_assets()
    merge = dg.define_asset_job("merge", selection=dg.AssetSelection.assets(*[k for a in merges for k in a.keys]))
    return dg.Definitions(
        assets=[*landing, *merges], jobs=[*landing_jobs(landing), merge],
        resources={"throughline": ThroughlineResource()},
    ).resolve_job_def(name)


_IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.CANCELING]
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# Tags of the nightly run the sensor starts: the landing runs it merges, and those of them that failed.
LANDING_RUNS_TAG = "throughline/landing_runs"
LANDING_FAILED_TAG = "throughline/landing_failed"


def nightly_after_landing(landing_job_names: list[str], nightly_job_name: str = "nightly") -> dg.SensorDefinition:
    """Starts `nightly` (merges, dbt, publish) once a round of landing runs is over, in place of its schedule.

    A round is over when a landing run finished since the last nightly this sensor requested and none is
    queued, starting or running. The cursor is the newest end time covered (and the runs that ended at that
    very time), so each finished landing run is covered by one nightly; the run key says the same to the daemon.
    A failed partition does not hold the others back: its shard keeps its last state (the merge skips a
    missing shard) and the nightly's tags name it.
    """

    @dg.sensor(
        name="nightly_after_landing",
        job_name=nightly_job_name,
        minimum_interval_seconds=60,
        default_status=launching_sensor_status(),
        description="Sharded mode: starts the nightly job (merge shards, dbt, publish) once no landing run is "
        "queued or running and at least one finished since the last nightly it started.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {"end": 0.0, "ids": []}
        instance = context.instance
        # The storage filters on update times: a finished run's is its end or later (a minute for rounding).
        since = datetime.fromtimestamp(max(cursor["end"] - 60, 0), tz=UTC)
        covered = set(cursor["ids"])

        def new(record) -> bool:
            end = record.end_time
            return end is not None and (end > cursor["end"] or end == cursor["end"]
                                        and record.dagster_run.run_id not in covered)

        finished, busy = [], 0
        for job in landing_job_names:
            busy += instance.get_runs_count(dg.RunsFilter(job_name=job, statuses=_IN_PROGRESS))
            finished += filter(new, instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=_FINISHED, updated_after=since)))
        if not finished:
            return dg.SkipReason("no landing run finished since the last nightly")
        if busy:
            return dg.SkipReason(f"{busy} landing run(s) queued or running; {len(finished)} finished: waiting")
        end = max(r.end_time for r in finished)
        ids = sorted(r.dagster_run.run_id for r in finished)
        failed = sorted(f"{r.dagster_run.job_name}[{r.dagster_run.tags.get('dagster/partition', '')}]"
                        for r in finished if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(
                run_key="landing:" + hashlib.sha1(" ".join(ids).encode()).hexdigest()[:16],
                tags={LANDING_RUNS_TAG: str(len(ids)), **({LANDING_FAILED_TAG: ", ".join(failed)} if failed else {})},
            )],
            # Runs already covered that ended at that time stay in it: a later one may end at the same time.
            cursor=json.dumps({"end": end, "ids": sorted(
                {r.dagster_run.run_id for r in finished if r.end_time == end}
                | (covered if end == cursor["end"] else set()))}),
        )

    return sensor


def landing_job_names(landing: list[dg.AssetsDefinition]) -> list[str]:
    return list(_landing_job_keys(landing))
