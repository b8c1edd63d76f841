"""Jenkins (remote access API and the Pipeline Stage View `wfapi`) as endpoint descriptions.

One extraction group, `builds`, fills three streams:
  jobs    every item of the walked folders, one `api/json?tree=jobs[...]` per folder, organization folder or
          multibranch project (an item whose answer has a `jobs` list is walked into, up to
          `options.max_folder_depth`); the job's `lastBuild` tells whether it has new builds at all.
  builds  per job, `api/json?tree=allBuilds[...]{M,N}`: newest first, a range of `page_size` builds per
          request (never one request per build), down to the saved build number.
  stages  per pipeline build read, `<job>/<number>/wfapi/describe` (its `stages`).

Incremental by build number per job (raw._state, stream `builds`, scope the job full name): the state is the
highest build number that had finished, held below the oldest build still running, so a running build is
read again next time and a finished one never. An unchanged job costs no request beyond its folder listing.
Build numbers are not times, so `lookback_hours` does not apply; `start_date` limits a job's first load.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.core.endpoint import Endpoint
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import AuthError, FatalError, NotFoundError
from connectors.core.paginators import SinglePage, TreeRangePaginator
from connectors.core.raw import CursorUpdate, RawRecord, RawStore
from connectors.core.source import Finding, SourceType, each_scope, engine_for, extraction_of, probe_client
from connectors.jenkins.config import JenkinsSource

log = logging.getLogger(__name__)

# The build properties the models read. `actions[...]` keeps only the git action (BuildData) and the causes;
# `_class` always comes (it tells pipeline runs, which have stages, from freestyle builds).
BUILD_TREE = (
    "allBuilds[number,url,timestamp,duration,estimatedDuration,building,result,displayName,fullDisplayName,"
    "actions[lastBuiltRevision[SHA1,branch[name]],remoteUrls,causes[shortDescription,userId]]]"
)
# `jobs[name]` inside a listed item is there only to tell containers (folders, multibranch projects) from jobs.
JOB_TREE = "jobs[name,fullName,displayName,url,color,buildable,description,lastBuild[number],jobs[name]]"
PIPELINE_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"


def job_path(full_name: str) -> str:
    """`a/b` -> `job/a/job/b/`. Jenkins stores a branch `feature/x` as `feature%2Fx`; its URL encodes the `%`."""
    return "".join(f"job/{quote(part, safe='')}/" for part in full_name.split("/") if part)


def _without_children(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "jobs"}


JOBS = Endpoint(stream="jobs", path="{folder_path}api/json", records_path="jobs", primary_key="fullName",
                params={"tree": JOB_TREE}, paginator=SinglePage(), transform=_without_children)

BUILDS = Endpoint(stream="builds", path="{job_path}api/json", records_path="allBuilds", primary_key="number",
                  paginator=TreeRangePaginator(BUILD_TREE), max_page_size=1000, order="descending")

STAGES = Endpoint(stream="stages", path="{job_path}{number}/wfapi/describe", records_path="stages")


def auth_headers(source: JenkinsSource):
    basic = base64.b64encode(f"{source.auth.user}:{source.auth.api_token.get_secret_value()}".encode()).decode()
    return lambda: {"Authorization": f"Basic {basic}"}


def is_running(build: Mapping[str, Any]) -> bool:
    return bool(build.get("building")) or build.get("result") is None


def next_state(previous: int | None, numbers: list[tuple[int, bool]]) -> int | None:
    """The job's new state from the (number, running) pairs read: the highest finished number, but below
    the oldest running build, so that build is read again next time; never lower than before."""
    finished = [n for n, running in numbers if not running]
    running = [n for n, is_run in numbers if is_run]
    best = max([*finished, *([previous] if previous is not None else [])], default=None)
    if best is not None and running:
        best = min(best, min(running) - 1)
        if previous is not None:
            best = max(best, previous)
    return best


def walk_jobs(engine: Engine, source: JenkinsSource, result: StreamResult) -> list[dict]:
    """List the scope's folders level by level, store every item, return the buildable jobs in scope."""
    scope = source.scope
    queue: list[tuple[str, int]] = [(folder, 1) for folder in scope.folders] or [("", 1)]
    jobs: list[dict] = []
    seen: set[str] = set()
    while queue:
        folder, depth = queue.pop(0)
        if folder in seen:
            continue
        seen.add(folder)
        path = JOBS.path.format(folder_path=job_path(folder))
        try:
            pages = list(engine.pages(JOBS, path, dict(JOBS.params), result.stats))
        except NotFoundError:
            if folder in scope.folders:
                raise NotFoundError(
                    f"{source.name}: folder '{folder}' of scope.folders does not exist on {source.base_url} (404): "
                    f"write its full name as Jenkins shows it under the job's 'Full project name', "
                    f"and check the user can see it"
                ) from None
            log.warning("%s: folder '%s' disappeared while it was listed; skipped", source.name, folder)
            continue
        items = [item for page in pages for item in page if not scope.excluded(item["fullName"])]
        result.pages += len(pages)
        records = [RawRecord(JOBS.key_of(i), JOBS.transform(i), folder or None, folder or None) for i in items]
        engine.store.write([(result.table, source.name, records)])
        result.records += len(records)
        for item in items:
            if "jobs" in item:
                if depth < source.options.max_folder_depth:
                    queue.append((item["fullName"], depth + 1))
                else:
                    log.warning("%s: '%s' is deeper than options.max_folder_depth (%d); not walked",
                                source.name, item["fullName"], source.options.max_folder_depth)
            elif item.get("buildable", True) and scope.included(item["fullName"]):
                jobs.append(item)
    return jobs


def read_builds(engine: Engine, source: JenkinsSource, job: dict, since: datetime | None) -> StreamResult:
    """The job's builds above its saved state, newest first in ranges, each page committed with its stages;
    the state moves once the job is read (a run that dies half way re-reads the job, upserting)."""
    name = job["fullName"]
    result = StreamResult(source.name, engine.table(BUILDS), name, child_records={"stages": 0})
    stages_table = engine.table(STAGES)
    store = engine.store
    store.ensure_table(result.table)
    store.ensure_table(stages_table)
    saved = store.get_cursor(source.name, BUILDS.stream, name)
    previous = int(saved) if saved is not None else None
    result.cursor_before = saved
    last = (job.get("lastBuild") or {}).get("number")
    if last is None or (previous is not None and int(last) <= previous):
        result.cursor_after = saved
        return result  # never built, or nothing new: no request

    path = BUILDS.path.format(job_path=job_path(name))
    size = engine.page_size_for(BUILDS)
    params = BUILDS.paginator.first_params(size)
    since_ms = since.timestamp() * 1000 if since is not None and previous is None else None
    numbers: list[tuple[int, bool]] = []
    with store.batched():  # pages commit (in order, the state last) while the next ones download
        for page in engine.pages(BUILDS, path, params, result.stats, size):
            result.pages += 1
            builds: list[RawRecord] = []
            stages: list[RawRecord] = []
            done = False
            for build in page:
                number = int(build["number"])
                seen_before = previous is not None and number <= previous
                if seen_before or (since_ms is not None and build.get("timestamp", 0) < since_ms):
                    done = True  # newest first: every build after this one is older still
                    continue
                key = f"{name}#{number}"
                numbers.append((number, is_running(build)))
                builds.append(RawRecord(key, build, name, name, str(number)))
                if source.options.read_stages and build.get("_class") == PIPELINE_RUN:
                    stages += _stages(engine, source, name, number, key, result)
            store.write([(result.table, source.name, builds), (stages_table, source.name, stages)])
            result.records += len(builds)
            result.child_records["stages"] += len(stages)
            if done:
                break
        state = next_state(previous, numbers)
        cursor = CursorUpdate(source.name, BUILDS.stream, name, str(state)) if state is not None else None
        if cursor is not None:
            store.write([], cursor)
    result.cursor_after = store.get_cursor(source.name, BUILDS.stream, name)
    return result


def _stages(engine: Engine, source: JenkinsSource, job: str, number: int, build_key: str,
            result: StreamResult) -> list[RawRecord]:
    path = STAGES.path.format(job_path=job_path(job), number=number)
    try:
        records = [r for page in engine.pages(STAGES, path, {}, result.stats) for r in page]
    except NotFoundError:
        # A build deleted between the listing and now, or a pipeline without the Stage View plugin.
        log.warning("%s: %s #%d has no wfapi/describe (404); its stages are skipped", source.name, job, number)
        return []
    return [RawRecord(f"{build_key}:{stage['id']}", stage, build_key, job) for stage in records]


def extract(group: str, source: JenkinsSource, store: RawStore, **client_kw) -> list[StreamResult]:
    if group not in SOURCE.groups:
        raise ValueError(f"jenkins has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    jobs_result = StreamResult(source.name, engine.table(JOBS), ",".join(source.scope.folders) or "/")
    store.ensure_table(jobs_result.table)
    try:
        jobs = {job["fullName"]: job for job in walk_jobs(engine, source, jobs_result)}

        def builds(name: str) -> list[StreamResult]:
            try:
                return [read_builds(engine, source, jobs[name], engine.options.start_date)]
            except NotFoundError:
                log.warning("%s: job '%s' disappeared while it was read; skipped", source.name, name)
                return []

        # A job that fails (403 on its folder, a server error past the retries) costs only its own builds.
        results = each_scope(source, engine.table(BUILDS), list(jobs), builds, engine.client, done=[jobs_result])
    except AuthError as exc:
        refused = str(exc).split(": check the credentials", 1)[0]
        error = AuthError(
            f"{refused}: check auth.user and auth.api_token of source '{source.name}' in throughline.yml (the "
            f"token is the user's own, from JENKINS_URL/me/configure > API Token), and that the user has "
            f"Overall/Read and Job/Read"
        )
        if (extraction := extraction_of(exc)) is not None:  # the jobs read before and after the refused one
            extraction.failed = [replace(f, error=str(error)) if f.error == str(exc) else f for f in extraction.failed]
            error.extraction = extraction
        raise error from None
    return results


def check(source: JenkinsSource, **client_kw) -> list[Finding]:
    """The credentials (the root listing needs Overall/Read) and each configured folder (Job/Read)."""
    client = probe_client(source, auth_headers(source), **client_kw)
    try:
        root, _ = client.get_json("api/json", {"tree": "jobs[name]"})
    except FatalError as exc:
        return [Finding("fail", f"{source.name}: credentials", f"{exc}; the user needs Overall/Read and Job/Read")]
    findings = [Finding("ok", f"{source.name}: credentials", f"{len((root or {}).get('jobs') or [])} top-level jobs visible")]
    for folder in source.scope.folders:
        try:
            client.get_json(f"{job_path(folder)}api/json", {"tree": "name"})
            findings.append(Finding("ok", f"{source.name}: folder {folder}", "visible"))
        except NotFoundError:
            findings.append(Finding("fail", f"{source.name}: folder {folder}", "not found: check its full name "
                                    "in scope.folders (as in the job URL, without /job/), and Job/Read on it"))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: folder {folder}", str(exc)))
    return findings


SOURCE = SourceType(name="jenkins", groups={"builds": ("jobs", "builds", "stages")}, extract=extract, check=check,
                    config_model=JenkinsSource)
