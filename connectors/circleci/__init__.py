"""CircleCI (cloud and server) API v2 as endpoint descriptions.

Per project slug (`gh/acme/checkout`): pipelines (newest first, page-token pages), the workflows of each
pipeline and the jobs of each workflow. Deployments are not an API object on CircleCI: dbt picks the jobs
(or workflows) whose names match the source's deployment rules (int_circleci__deployments).

Incremental reading, and why it has three steps:
1. Pipelines are listed newest first with no date filter, so the list stops at the first page reaching
   the saved cursor (pipeline `created_at`) minus the lookback; the workflows of every pipeline read at or
   after that bound come with the page, in its transaction. A pipeline still setting up (no workflows
   yet) holds the cursor below it.
2. A workflow can outlive the lookback (an approval job may hold it for days): workflows still `running`,
   `failing` or `on_hold` when last read are read again, by pipeline id, while their pipeline is younger
   than `options.recheck_unfinished_days`.
3. The engine follows one level of children, and jobs are children of workflows. So jobs have their own
   cursor: the `extracted_at` of the newest workflow whose jobs were read. Every workflow written after it
   (new, re-read inside the lookback, or re-checked) has its jobs read, committed with the cursor in one
   transaction per batch of workflows written together; a run that dies half way resumes there.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from connectors.circleci.config import CircleCISource
from connectors.core.endpoint import Child, Endpoint, format_cursor, parse_timestamp
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError
from connectors.core.http import RequestStats
from connectors.core.paginators import SinglePage, TokenPaginator
from connectors.core.raw import CursorUpdate, RawRecord, raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client

log = logging.getLogger(__name__)

# Every v2 list answers {"items": [...], "next_page_token": "..." | null}; the page size is fixed (20)
# by CircleCI, so no size parameter is sent.
PAGES = TokenPaginator(token_param="page-token", token_path="next_page_token", size_param=None, is_last_path=None)

# Workflow statuses that will still change; `not_run`, `success`, `failed`, `error`, `canceled` and
# `unauthorized` are final.
UNFINISHED_WORKFLOW_STATUSES = ("running", "failing", "on_hold")
PENDING_PIPELINE_STATES = ("setup-pending", "setup", "pending")
# Job statuses that will still change (the others, `success`, `failed`, `canceled`, ..., are final).
UNFINISHED_JOB_STATUSES = ("running", "queued", "not_running", "on_hold", "blocked")

PIPELINES = Endpoint(
    stream="pipelines",
    path="api/v2/project/{slug}/pipeline",
    records_path="items",
    cursor_field="created_at",
    paginator=PAGES,
    order="descending",
    stop_at_since=True,
    # A pipeline still reading its config has no workflows yet: hold the cursor so it is read again.
    is_complete=lambda pipeline: pipeline.get("state") not in PENDING_PIPELINE_STATES,
)

WORKFLOWS = Endpoint(stream="workflows", path="api/v2/pipeline/{pipeline_id}/workflow", records_path="items",
                     paginator=PAGES)

JOBS = Endpoint(stream="jobs", path="api/v2/workflow/{workflow_id}/job", records_path="items", paginator=PAGES)

# API v2 cannot list an organisation's projects; v1.1 lists the projects the token's user follows.
FOLLOWED_PROJECTS = Endpoint(stream="projects", path="api/v1.1/projects", paginator=SinglePage())

_VCS_OF_PREFIX = {"gh": "github", "github": "github", "bb": "bitbucket", "bitbucket": "bitbucket"}

WORKFLOWS_CHILD = Child(WORKFLOWS, path_vars=lambda pipeline: {"pipeline_id": pipeline["id"]}, only_since=True)


def auth_headers(source: CircleCISource):
    token = source.auth.token
    return lambda: {"Circle-Token": token.get_secret_value()}


def resolve_projects(engine: Engine, source: CircleCISource) -> list[str]:
    """Explicit slugs plus the followed projects of `scope.org` whose repository name passes include/exclude."""
    scope = source.scope
    slugs = list(scope.projects)
    if scope.org:
        prefix, org = scope.org.split("/", 1)
        vcs = _VCS_OF_PREFIX[prefix]
        for page in engine.pages(FOLLOWED_PROJECTS, FOLLOWED_PROJECTS.path, {}, RequestStats()):
            for project in page:
                name = str(project.get("reponame") or "")
                if str(project.get("username") or "").lower() != org.lower():
                    continue
                if str(project.get("vcs_type") or vcs).lower() != vcs:
                    continue
                if scope.wanted(name):
                    slugs.append(f"{prefix}/{project['username']}/{name}")
    return list(dict.fromkeys(slugs))


def recheck_unfinished(engine: Engine, source: CircleCISource, slug: str, started: datetime) -> StreamResult:
    """Read again the workflows of pipelines whose workflows were unfinished when last read (step 2)."""
    table = engine.table(WORKFLOWS)
    result = StreamResult(source.name, table, slug)
    days = source.options.recheck_unfinished_days
    if days <= 0:
        return result
    oldest = format_cursor(started - timedelta(days=days))
    with engine.store.lock:
        pipeline_ids = [row[0] for row in engine.store.con.execute(
            f"""SELECT DISTINCT w.parent_key
                FROM raw.{table} AS w
                JOIN raw.{engine.table(PIPELINES)} AS p
                  ON p.source_instance = w.source_instance AND p.record_key = w.parent_key
                WHERE w.source_instance = ? AND w.scope = ? AND w.extracted_at < ?
                  AND lower(w.payload ->> '$.status') IN (SELECT unnest(?::VARCHAR[]))
                  AND try_cast(p.payload ->> '$.created_at' AS TIMESTAMPTZ) >= try_cast(? AS TIMESTAMPTZ)
                ORDER BY 1""",
            [source.name, slug, started.replace(tzinfo=None), list(UNFINISHED_WORKFLOW_STATUSES), oldest],
        ).fetchall()]
    with engine.store.batched():  # each pipeline's workflows commit while the next ones download
        for pipeline_id in pipeline_ids:
            path = WORKFLOWS.path.format(pipeline_id=pipeline_id)
            records: list[RawRecord] = []
            for page in engine.pages(WORKFLOWS, path, {}, result.stats):
                result.pages += 1
                records += [RawRecord(WORKFLOWS.key_of(w), w, pipeline_id, slug, None) for w in page]
            engine.store.write([(table, source.name, records)])
            result.records += len(records)
    return result


def read_jobs(engine: Engine, source: CircleCISource, slug: str) -> StreamResult:
    """The jobs of every workflow written since the jobs cursor, a batch of workflows at a time (step 3).

    A finished workflow whose stored jobs are all finished is not asked again when it is written again (the
    lookback re-reads the workflows of recent pipelines): its jobs cannot change, since CircleCI runs a rerun
    as a new workflow. One stored with an unfinished job, or with none, is asked."""
    table = engine.table(JOBS)
    result = StreamResult(source.name, table, slug)
    engine.store.ensure_table(table)
    result.cursor_before = engine.store.get_cursor(source.name, JOBS.stream, slug)
    after = parse_timestamp(result.cursor_before)
    with engine.store.lock:
        rows = engine.store.con.execute(
            f"""SELECT w.record_key, w.extracted_at,
                       coalesce(lower(w.payload ->> '$.status') NOT IN (SELECT unnest(?::VARCHAR[])), false)
                       AND EXISTS (SELECT 1 FROM raw.{table} AS j
                                   WHERE j.source_instance = w.source_instance AND j.parent_key = w.record_key)
                       AND NOT EXISTS (SELECT 1 FROM raw.{table} AS j
                                       WHERE j.source_instance = w.source_instance AND j.parent_key = w.record_key
                                         AND coalesce(lower(j.payload ->> '$.status'), '')
                                             IN (SELECT unnest(?::VARCHAR[]))) AS settled
                FROM raw.{engine.table(WORKFLOWS)} AS w
                WHERE w.source_instance = ? AND w.scope = ? AND (? IS NULL OR w.extracted_at > ?)
                ORDER BY w.extracted_at, w.record_key""",
            [list(UNFINISHED_WORKFLOW_STATUSES), list(UNFINISHED_JOB_STATUSES), source.name, slug,
             *(2 * [after.replace(tzinfo=None) if after else None])],
        ).fetchall()
    batches: dict[datetime, list[str]] = {}
    for workflow_id, extracted_at, settled in rows:
        batches.setdefault(extracted_at, [])
        if not settled:
            batches[extracted_at].append(workflow_id)
    with engine.store.batched():  # each batch commits (with its cursor) while the next one downloads
        for extracted_at, workflow_ids in batches.items():
            # Workflows written together share their extracted_at: the cursor may only pass all of them at once.
            records: list[RawRecord] = []
            for workflow_id in workflow_ids:
                path = JOBS.path.format(workflow_id=workflow_id)
                for page in engine.pages(JOBS, path, {}, result.stats):
                    result.pages += 1
                    records += [RawRecord(JOBS.key_of(j), j, workflow_id, slug, None) for j in page]
            cursor = CursorUpdate(source.name, JOBS.stream, slug, format_cursor(extracted_at.replace(tzinfo=UTC)))
            engine.store.write([(table, source.name, records)], cursor)
            result.records += len(records)
    result.cursor_after = engine.store.get_cursor(source.name, JOBS.stream, slug)
    return result


def extract(group: str, source: CircleCISource, store, **client_kw) -> list[StreamResult]:
    if group not in SOURCE.groups:
        raise ValueError(f"circleci has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    for stream in SOURCE.groups[group]:
        store.ensure_table(raw_table(SOURCE.name, stream))

    def project(slug: str) -> list[StreamResult]:
        # Workflows written from here on were read by this run; older unfinished ones are re-checked.
        started = datetime.now(UTC)
        return [engine.run(PIPELINES, scope=slug, path_vars={"slug": slug}, children=(WORKFLOWS_CHILD,)),
                recheck_unfinished(engine, source, slug, started),
                read_jobs(engine, source, slug)]

    # A project that fails (403, deleted) costs only its own streams; the others are read.
    return each_scope(source, engine.table(PIPELINES), resolve_projects(engine, source), project, engine.client)


def check(source: CircleCISource, **client_kw) -> list[Finding]:
    """Who the token is, and whether each configured project's pipelines can be listed."""
    client = probe_client(source, auth_headers(source), **client_kw)
    try:
        me, _ = client.get_json("api/v2/me")
    except FatalError as exc:
        return [Finding("fail", f"{source.name}: credentials", f"{exc}; use a personal API token")]
    findings = [Finding("ok", f"{source.name}: credentials", f"authenticated as {(me or {}).get('login')}")]
    for slug in source.scope.projects:
        try:
            client.get_json(f"api/v2/project/{slug}/pipeline")
            findings.append(Finding("ok", f"{source.name}: {slug}", "pipelines readable"))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: {slug}", f"{exc}: check the slug in scope.projects "
                                    "(gh/<org>/<repo>) and that the token's user can see the project"))
    return findings


SOURCE = SourceType(
    name="circleci",
    groups={"pipelines": ("pipelines", "workflows", "jobs")},
    extract=extract,
    check=check,
    config_model=CircleCISource,
)
